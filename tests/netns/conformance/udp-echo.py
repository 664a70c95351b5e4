#!/usr/bin/python3
"""UDP echo for scripts/netns-conformance-test.sh (run with /usr/bin/python3).

  udp-echo.py server ADDR PORT MAX_DATAGRAMS TIMEOUT_S
      Bind ADDR:PORT (IPv4), echo up to MAX_DATAGRAMS datagrams back to
      their sender, exit after TIMEOUT_S seconds in total. Logs one line per
      datagram: "got LENGTH SHA256 PEER".
  udp-echo.py client ADDR6 PORT SIZE TRIES WAIT_S
      Send a SIZE-byte datagram (deterministic pattern) to [ADDR6]:PORT,
      wait WAIT_S for the echo, up to TRIES times. Prints
      "sent LENGTH SHA256 got LENGTH SHA256"; exit 0 only if the echo is
      byte-for-byte the datagram sent.
"""
import hashlib
import socket
import sys
import time


def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def server(addr: str, port: int, count: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((addr, port))
        print(f"listening {addr}:{port}", flush=True)
        served = 0
        while served < count:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            s.settimeout(left)
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                break
            print(f"got {len(data)} {digest(data)} {peer[0]}:{peer[1]}", flush=True)
            s.sendto(data, peer)
            served += 1
    return 0


def client(addr6: str, port: int, size: int, tries: int, wait: float) -> int:
    payload = bytes((i * 7 + i // 251) % 256 for i in range(size))
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.connect((addr6, port))
        s.settimeout(wait)
        data = b""
        for _ in range(tries):
            s.send(payload)
            try:
                data = s.recv(65535)
                break
            except socket.timeout:
                continue
            except OSError as e:  # e.g. ICMPv6 error reported on the connected socket
                print(f"error {e}", flush=True)
                time.sleep(wait)
    got = f"got {len(data)} {digest(data)}" if data else "got nothing"
    print(f"sent {len(payload)} {digest(payload)} {got}", flush=True)
    return 0 if data == payload else 1


def main(argv: list[str]) -> int:
    if len(argv) == 6 and argv[1] == "server":
        return server(argv[2], int(argv[3]), int(argv[4]), float(argv[5]))
    if len(argv) == 7 and argv[1] == "client":
        return client(argv[2], int(argv[3]), int(argv[4]), int(argv[5]), float(argv[6]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
