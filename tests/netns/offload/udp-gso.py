#!/usr/bin/env python3
"""UDP segmentation offload (GSO) through the gateway, with the payload checked end to end.

  udp-gso.py recv PORT COUNT TIMEOUT   (server namespace) print "SEQS-RECEIVED SHA256" of the payloads in order
  udp-gso.py send ADDR PORT COUNT      (client namespace) send COUNT segments with UDP_SEGMENT, print the SHA256
  udp-gso.py blast ADDR PORT SECONDS   (benchmark) send super-packets as fast as possible for SECONDS
  udp-gso.py sink PORT SECONDS         (benchmark) print "DATAGRAMS BYTES SECONDS" received, from the first one
                                       (UDP_GRO on: coalesced datagrams are read in one call)

The sender writes 64 KiB-ish buffers with the UDP_SEGMENT socket option (SOL_UDP 103), so the kernel hands
each buffer down as one GSO super-packet of SEGMENT-byte datagrams. Every datagram starts with its sequence
number; the receiver hashes the payloads in sequence order, so reordering is harmless and a lost or corrupted
datagram changes the hash. Bounded: COUNT datagrams, TIMEOUT seconds.
"""
import hashlib
import socket
import struct
import sys
import time

SEGMENT = 1400
PER_SEND = 40  # 40 x 1400 = 56,000 bytes per sendmsg: one super-packet
UDP_SEGMENT = 103
UDP_GRO = 104


def payload(seq):
    body = bytes((seq * 7 + i) & 0xFF for i in range(SEGMENT - 8))
    return struct.pack("!Q", seq) + body


def send(addr, port, count):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, SEGMENT)
    digest = hashlib.sha256()
    seq = 0
    while seq < count:
        n = min(PER_SEND, count - seq)
        buf = b"".join(payload(seq + i) for i in range(n))
        for i in range(n):
            digest.update(payload(seq + i))
        s.sendto(buf, (addr, port))
        seq += n
        time.sleep(0.002)  # pace: the test is about correctness, not about filling queues
    print(digest.hexdigest())


def recv(port, count, timeout):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    s.bind(("0.0.0.0", port))
    print("ready", flush=True)
    got = {}
    deadline = time.time() + timeout
    while len(got) < count and time.time() < deadline:
        s.settimeout(max(0.05, deadline - time.time()))
        try:
            data = s.recv(65536)
        except socket.timeout:
            break
        if len(data) >= 8:
            got[struct.unpack("!Q", data[:8])[0]] = data
    digest = hashlib.sha256()
    for seq in sorted(got):
        digest.update(got[seq])
    print(len(got), digest.hexdigest(), flush=True)


def blast(addr, port, seconds):
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    s = socket.socket(family, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_UDP, UDP_SEGMENT, SEGMENT)
    buf = b"".join(payload(i) for i in range(PER_SEND))
    end = time.time() + seconds
    sent = 0
    while time.time() < end:
        try:
            s.sendto(buf, (addr, port))
            sent += PER_SEND
        except OSError:  # ENOBUFS under load: the qdisc is full; try again
            time.sleep(0.0002)
    print(sent)


def sink(port, seconds):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 32 << 20)
    # UDP_GRO: a GSO super-packet that arrives whole is read whole (up to 64 KiB per recv), so this Python
    # loop is not what limits the measured rate (one recv per 1400-byte datagram capped it near 1.5 Gbit/s,
    # below what the gateways carry). Datagrams that arrive one by one are read one by one, as before.
    try:
        s.setsockopt(socket.SOL_UDP, UDP_GRO, 1)
    except OSError:
        pass
    s.bind(("::", port))
    print("ready", flush=True)
    count = total = 0
    first = last = None
    deadline = time.time() + seconds
    s.settimeout(1.0)
    buf = bytearray(1 << 18)
    while time.time() < deadline:
        try:
            n = s.recv_into(buf)
        except socket.timeout:
            if first is not None:
                break
            continue
        now = time.time()
        first = first or now
        last = now
        count += (n + SEGMENT - 1) // SEGMENT  # datagrams, whether read one by one or coalesced
        total += n
    print(count, total, "%.6f" % ((last - first) if first else 0), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "send":
        send(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))
    elif sys.argv[1] == "blast":
        blast(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif sys.argv[1] == "sink":
        sink(int(sys.argv[2]), float(sys.argv[3]))
    else:
        recv(int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4]))
