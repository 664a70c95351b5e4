#!/usr/bin/python3
"""UDP and raw-protocol peers for scripts/netns-siit-test.sh (run with /usr/bin/python3).

  siit-peer.py udp-server ADDR6 PORT TIMEOUT_S
      Bind [ADDR6]:PORT, answer each datagram with "echo:" + datagram, log "got LENGTH PEER" per datagram;
      exit after TIMEOUT_S seconds.
  siit-peer.py udp-client ADDR PORT
      Send one datagram to ADDR:PORT (IPv4 or IPv6; three tries, 2 s each); exit 0 when the echo matches,
      whichever address it comes from.
  siit-peer.py raw-server PROTO TIMEOUT_S
      Open an IPv6 raw socket for protocol PROTO; for each packet log "got PROTO LENGTH PEER PAYLOAD-HEX"
      and send "reply:" + payload back to the peer with the same protocol; exit after TIMEOUT_S seconds.
  siit-peer.py raw-client ADDR4 PROTO
      Send an IPv4 packet of protocol PROTO (a GRE header, then a marker) to ADDR4 and wait for the reply;
      print "reply from PEER proto PROTO"; exit 0 when the reply carries the marker.

The raw modes need no kernel support for the protocol itself (no GRE or SCTP module): the kernel hands raw
sockets every packet of their protocol.
"""
import socket
import sys
import time

MARKER = b"siit-raw-marker"


def udp_server(addr: str, port: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
        s.bind((addr, port))
        print(f"listening [{addr}]:{port}", flush=True)
        while time.monotonic() < deadline:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                break
            print(f"got {len(data)} {peer[0]}", flush=True)
            s.sendto(b"echo:" + data, peer)
    return 0


def udp_client(addr: str, port: int) -> int:
    payload = b"udp through siit " + str(time.monotonic_ns()).encode()
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        for _ in range(3):
            s.sendto(payload, (addr, port))
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                continue
            print(f"reply {len(data)} from {peer[0]}:{peer[1]}", flush=True)
            return 0 if data == b"echo:" + payload else 1
    print("no reply", flush=True)
    return 1


def raw_server(proto: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_INET6, socket.SOCK_RAW, proto) as s:
        print(f"listening raw proto {proto}", flush=True)
        while time.monotonic() < deadline:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            try:
                data, peer = s.recvfrom(65535)
            except socket.timeout:
                break
            print(f"got {proto} {len(data)} {peer[0]} {data.hex()}", flush=True)
            s.sendto(b"reply:" + data, (peer[0], 0))
    return 0


def raw_client(addr: str, proto: int) -> int:
    gre = bytes([0, 0, 0x08, 0x00])  # GRE: no flags, version 0, protocol type IPv4
    payload = gre + MARKER
    with socket.socket(socket.AF_INET, socket.SOCK_RAW, proto) as s:
        s.settimeout(2)
        for _ in range(3):
            s.sendto(payload, (addr, 0))
            end = time.monotonic() + 2
            while time.monotonic() < end:
                try:
                    data, peer = s.recvfrom(65535)
                except socket.timeout:
                    break
                ihl = (data[0] & 0x0F) * 4
                body = data[ihl:]
                if peer[0] == addr and body == b"reply:" + payload:
                    print(f"reply from {peer[0]} proto {data[9]}", flush=True)
                    return 0
    print("no reply", flush=True)
    return 1


def main() -> int:
    mode = sys.argv[1]
    if mode == "udp-server":
        return udp_server(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    if mode == "udp-client":
        return udp_client(sys.argv[2], int(sys.argv[3]))
    if mode == "raw-server":
        return raw_server(int(sys.argv[2]), float(sys.argv[3]))
    if mode == "raw-client":
        return raw_client(sys.argv[2], int(sys.argv[3]))
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
