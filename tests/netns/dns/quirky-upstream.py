#!/usr/bin/python3
# A deliberately odd upstream for scripts/netns-dns-test.sh: answers that a well-behaved authoritative
# server (knot) never gives, to test the DNS64's D3/D5 rules. Standard library only; runs in the server
# namespace on the address and port given, until killed. Names (any case, under quirk.test):
#   servfail-aaaa  AAAA -> SERVFAIL            A -> 198.51.100.20 TTL 1300
#   nosoa          AAAA -> NOERROR, no SOA     A -> 198.51.100.20 TTL 1300
#   servfail-both  AAAA and A -> SERVFAIL
# Everything else: REFUSED.
import socket
import struct
import sys


def parse_question(msg):
    """Returns (qname_lower, qtype, end_of_question) or None."""
    pos, labels = 12, []
    while pos < len(msg):
        n = msg[pos]
        if n == 0:
            pos += 1
            break
        if n > 63:
            return None
        labels.append(msg[pos + 1:pos + 1 + n].decode("ascii", "replace").lower())
        pos += 1 + n
    if pos + 4 > len(msg):
        return None
    qtype = struct.unpack("!H", msg[pos:pos + 2])[0]
    return ".".join(labels), qtype, pos + 4


def answer(msg):
    if len(msg) < 12 or msg[2] & 0x80:
        return None
    q = parse_question(msg)
    if q is None:
        return None
    name, qtype, end = q
    rcode, records = 5, b""
    host = name[:-len(".quirk.test")] if name.endswith(".quirk.test") else None
    a_record = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 1300, 4) + bytes([198, 51, 100, 20])
    if host == "servfail-aaaa":
        rcode, records = (2, b"") if qtype == 28 else (0, a_record if qtype == 1 else b"")
    elif host == "nosoa":
        rcode, records = 0, (a_record if qtype == 1 else b"")
    elif host == "servfail-both":
        rcode = 2
    ancount = 1 if records else 0
    flags = 0x8080 | (0x0100 if msg[2] & 0x01 else 0) | rcode
    header = msg[0:2] + struct.pack("!HHHHH", flags, 1, ancount, 0, 0)
    return header + msg[12:end] + records


def main():
    address, port = sys.argv[1], int(sys.argv[2])
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind((address, port))
    while True:
        msg, peer = sock.recvfrom(4096)
        reply = answer(msg)
        if reply is not None:
            sock.sendto(reply, peer)


if __name__ == "__main__":
    main()
