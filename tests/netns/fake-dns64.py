#!/usr/bin/python3
"""Minimal DNS64 stand-in used only to self-test scripts/netns-test.sh.

Listens on UDP [LISTEN]:53, REFUSES sources outside ALLOW, forwards queries to
UPSTREAM; for AAAA queries without AAAA answers it queries A for the end of the
CNAME chain and synthesizes PREFIX::a.b.c.d (/96). Not nat64d, not for real use.
"""
import ipaddress
import socket
import sys

from scapy.layers.dns import DNS, DNSQR, DNSRR

listen, upstream, prefix = sys.argv[1], sys.argv[2], ipaddress.IPv6Network(sys.argv[3])
allow = [ipaddress.ip_network(n) for n in sys.argv[4].split(",")]


def ask(pkt: DNS) -> DNS:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(2)
        s.sendto(bytes(pkt), (upstream, 53))
        return DNS(s.recvfrom(4096)[0])


def records(d: DNS):
    return [d.an[i] for i in range(d.ancount)]


sock = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
sock.bind((listen, 53))
print(f"fake-dns64 listening on [{listen}]:53", flush=True)
while True:
    data, peer = sock.recvfrom(4096)
    try:
        q = DNS(data)
        if not any(ipaddress.ip_address(peer[0]) in n for n in allow):
            sock.sendto(bytes(DNS(id=q.id, qr=1, rd=q.rd, rcode=5, qd=q.qd)), peer)
            continue
        r = ask(q)
        if q.qd.qtype == 28 and r.rcode == 0 and not any(rr.type == 28 for rr in records(r)):
            chain = [rr for rr in records(r) if rr.type == 5]
            target = chain[-1].rdata if chain else q.qd.qname
            a = ask(DNS(rd=1, qd=DNSQR(qname=target, qtype="A")))
            syn = [DNSRR(rrname=rr.rrname, type="AAAA", ttl=rr.ttl,
                         rdata=str(prefix[int(ipaddress.IPv4Address(rr.rdata))]))
                   for rr in records(a) if rr.type == 1]
            an = None
            for rr in chain + syn:
                rr = DNSRR(rrname=rr.rrname, type=rr.type, ttl=rr.ttl, rdata=rr.rdata)
                an = rr if an is None else an / rr
            r = DNS(id=q.id, qr=1, rd=q.rd, ra=1, qd=q.qd, an=an)
        r.id = q.id
        sock.sendto(bytes(r), peer)
    except Exception as e:  # keep serving
        print(f"error: {e!r}", flush=True)
