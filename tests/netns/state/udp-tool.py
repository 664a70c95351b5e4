#!/usr/bin/python3
"""UDP helpers for scripts/netns-state-test.sh (run with /usr/bin/python3).

  udp-tool.py server ADDR4 PORT MAX_DATAGRAMS TIMEOUT_S
      Echo server on ADDR4:PORT: answers up to MAX_DATAGRAMS datagrams, exits
      after TIMEOUT_S seconds in total. Logs "listening ADDR:PORT" and one
      line per datagram: "got LENGTH PEER_ADDR:PEER_PORT".
  udp-tool.py echo SRC6 SPORT DST6 DPORT WAIT_S TRIES
      From [SRC6]:SPORT, send a datagram to [DST6]:DPORT and wait WAIT_S for
      the echo, up to TRIES times. Prints "echo from ADDR PORT"; exit 0 when
      the echo came back unchanged.
  udp-tool.py hairpin A6 APORT B6 BPORT DST6 DPORT WAIT_S
      Hairpinning (RFC 6146 §3.8): host A listens on [A6]:APORT; host B sends
      from [B6]:BPORT to [DST6]:DPORT (the NAT64 prefix + pool4 address, A's
      mapped port). A prints "a-got from ADDR PORT", answers the sender, and
      B prints "b-got from ADDR PORT". Exit 0 when both arrived.
  udp-tool.py send4 SRC4 SPORT DST4 DPORT
      Send one IPv4 datagram (no answer expected). Prints "sent".
"""
import socket
import sys
import time


def server(addr: str, port: int, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((addr, port))
        print(f"listening {addr}:{port}", flush=True)
        for _ in range(count):
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                break
            print(f"got {len(data)} {peer[0]}:{peer[1]}", flush=True)
            s.sendto(data, peer)
    return 0


def bound6(addr: str, port: int) -> socket.socket:
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    return s


def echo(src: str, sport: int, dst: str, dport: int, wait: float, tries: int) -> int:
    payload = f"nat64d-state-test from [{src}]:{sport}".encode()
    with bound6(src, sport) as s:
        s.settimeout(wait)
        for _ in range(tries):
            s.sendto(payload, (dst, dport))
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError as e:  # an ICMPv6 error reported on the socket
                print(f"error {e}", flush=True)
                time.sleep(wait)
                continue
            print(f"echo from {peer[0]} {peer[1]}", flush=True)
            return 0 if data == payload else 1
    print("no echo", flush=True)
    return 1


def hairpin(a: str, aport: int, b: str, bport: int, dst: str, dport: int, wait: float) -> int:
    with bound6(a, aport) as sa, bound6(b, bport) as sb:
        sa.settimeout(wait)
        sb.settimeout(wait)
        sb.sendto(b"hairpin B->A", (dst, dport))
        try:
            data, peer = sa.recvfrom(65535)
        except (socket.timeout, OSError) as e:
            print(f"a-got nothing ({e or 'timeout'})", flush=True)
            return 1
        print(f"a-got from {peer[0]} {peer[1]} {data.decode(errors='replace')}", flush=True)
        sa.sendto(b"hairpin A->B", peer[:2])
        try:
            data, peer = sb.recvfrom(65535)
        except (socket.timeout, OSError) as e:
            print(f"b-got nothing ({e or 'timeout'})", flush=True)
            return 1
        print(f"b-got from {peer[0]} {peer[1]} {data.decode(errors='replace')}", flush=True)
    return 0


def send4(src: str, sport: int, dst: str, dport: int) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((src, sport))
        s.sendto(b"nat64d-state-test probe", (dst, dport))
    print("sent", flush=True)
    return 0


def main(argv: list[str]) -> int:
    cmd, args = (argv[1], argv[2:]) if len(argv) > 1 else ("", [])
    if cmd == "server" and len(args) == 4:
        return server(args[0], int(args[1]), int(args[2]), float(args[3]))
    if cmd == "echo" and len(args) == 6:
        return echo(args[0], int(args[1]), args[2], int(args[3]), float(args[4]), int(args[5]))
    if cmd == "hairpin" and len(args) == 7:
        return hairpin(args[0], int(args[1]), args[2], int(args[3]), args[4], int(args[5]), float(args[6]))
    if cmd == "send4" and len(args) == 4:
        return send4(args[0], int(args[1]), args[2], int(args[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
