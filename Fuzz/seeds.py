#!/usr/bin/python3
"""Writes the seed inputs of the fuzz targets (scripts/fuzz.sh) into DIR/translator, DIR/dns64, DIR/config.

Seeds are a handful of valid inputs each target's format describes (see Fuzz/*/...Fuzz.swift), so libFuzzer
starts from the accepted shapes instead of rediscovering headers byte by byte. Built here from their fields,
with documentation addresses only, so no binary blob is checked in.

    /usr/bin/python3 Fuzz/seeds.py DIR
"""
import os
import struct
import sys


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def v6(addr):
    import ipaddress
    return ipaddress.IPv6Address(addr).packed


def v4(addr):
    import ipaddress
    return ipaddress.IPv4Address(addr).packed


CLIENT6, SERVER6 = v6("2001:db8:1::2"), v6("64:ff9b::c633:640a")  # 198.51.100.10 under the WKP
SERVER4, POOL4 = v4("198.51.100.10"), v4("192.0.2.1")


def ipv6(nh, payload, src=CLIENT6, dst=SERVER6):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, 64) + src + dst + payload


def ipv4(proto, payload, src=SERVER4, dst=POOL4, flags_frag=0x4000):
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 1, flags_frag, 64, proto, 0, src, dst)
    return h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def udp6(sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = csum(CLIENT6 + SERVER6 + struct.pack("!IxxxB", len(seg), 17) + seg)
    return ipv6(17, seg[:6] + struct.pack("!H", c or 0xFFFF) + seg[8:])


def tcp6_syn(sport, dport):
    seg = struct.pack("!HHIIBBHHH", sport, dport, 1, 0, 5 << 4, 0x02, 65535, 0, 0)
    c = csum(CLIENT6 + SERVER6 + struct.pack("!IxxxB", len(seg), 6) + seg)
    return ipv6(6, seg[:16] + struct.pack("!H", c) + seg[18:])


def echo6(ident, seq, data):
    body = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + data
    c = csum(CLIENT6 + SERVER6 + struct.pack("!IxxxB", len(body), 58) + body)
    return ipv6(58, body[:2] + struct.pack("!H", c) + body[4:])


def udp4(sport, dport, data):
    seg = struct.pack("!HHHH", sport, dport, 8 + len(data), 0) + data
    c = csum(SERVER4 + POOL4 + struct.pack("!xBH", 17, len(seg)) + seg)
    return ipv4(17, seg[:6] + struct.pack("!H", c or 0xFFFF) + seg[8:])


def record(packet, mode=0):
    return struct.pack("!HB", len(packet), mode) + packet


def name(n):
    return b"".join(bytes([len(l)]) + l.encode() for l in n.split(".") if l) + b"\0"


def dns(ident, flags, questions, answers=b"", an=0, ns_=b"", ns=0, ar_=b"", ar=0):
    return struct.pack("!HHHHHH", ident, flags, len(questions), an, ns, ar) + b"".join(questions) + answers + ns_ + ar_


OPT = b"\0" + struct.pack("!HHIH", 41, 1232, 0x8000, 0)


def main(out):
    seeds = {
        "translator": {
            "udp-out-and-reply": record(udp6(40000, 53, b"hello")) + record(udp4(53, 1024, b"world")),
            "tcp-syn": record(tcp6_syn(40001, 80)),
            "echo": record(echo6(7, 1, b"ping" * 8)),
            "gso-udp": record(udp6(40002, 9, b"x" * 3000), mode=0x03 | (12 << 3)),
            "fragment-v4": record(ipv4(17, struct.pack("!HHHH", 53, 1024, 1400, 0) + b"y" * 600, flags_frag=0x2000)),
        },
        "dns64": {
            "query-aaaa-edns": b"\x00" + dns(0x1234, 0x0100, [name("v4only.example") + struct.pack("!HH", 28, 1)], ar_=OPT, ar=1),
            "answer-a": b"\x00" + dns(0x1234, 0x8180, [name("v4only.example") + struct.pack("!HH", 1, 1)],
                                      answers=b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 300, 4) + SERVER4, an=1),
            "answer-cname-a": b"\x20" + dns(1, 0x8180, [name("alias.example") + struct.pack("!HH", 1, 1)],
                                            answers=b"\xc0\x0c" + struct.pack("!HHIH", 5, 1, 60, 8) + b"\x05chain\xc0\x12"
                                            + b"\xc0\x2b" + struct.pack("!HHIH", 1, 1, 60, 4) + SERVER4, an=2),
            "nodata-soa": b"\x00" + dns(2, 0x8180, [name("x.example") + struct.pack("!HH", 28, 1)],
                                        ns_=b"\xc0\x0e" + struct.pack("!HHIH", 6, 1, 3600, 30) + b"\x02ns\xc0\x0e\x02hm\xc0\x0e"
                                        + struct.pack("!IIIII", 1, 3600, 900, 604800, 1200), ns=1),
            "ptr-query": b"\x01" + dns(3, 0x0100, [name("a.0.6.3.3.6.c.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.b.9.f.f.4.6.0.0.ip6.arpa") + struct.pack("!HH", 12, 1)]),
        },
    }
    for target, files in seeds.items():
        os.makedirs(os.path.join(out, target), exist_ok=True)
        for fname, data in files.items():
            with open(os.path.join(out, target, fname), "wb") as f:
                f.write(data)
    os.makedirs(os.path.join(out, "config"), exist_ok=True)
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "..", "config", "nat64d.toml"), "rb") as f:
        sample = f.read()
    with open(os.path.join(out, "config", "sample"), "wb") as f:
        f.write(sample)
    with open(os.path.join(out, "config", "minimal"), "wb") as f:
        f.write(b'[translator]\nprefix = "64:ff9b::/96"\npool4 = ["192.0.2.1"]\n[gateway]\nipv4 = "198.51.100.1"\nipv6 = "2001:db8:1::1"\n')
    with open(os.path.join(out, "config", "router-advertisements"), "wb") as f:
        f.write(b'[translator]\nprefix = "64:ff9b::/96"\npool4 = ["192.0.2.1"]\n[gateway]\nipv4 = "198.51.100.1"\n'
                b'ipv6 = "2001:db8:1::1"\n[ra.eth1]\nmax-interval = 60\nmin-interval = 20\nrouter-lifetime = 180\n'
                b'router-preference = "high"\nhop-limit = 64\nmtu = 1500\nprefix-information = ["2001:db8:1::/64"]\n'
                b'prefix-valid-lifetime = 86400\nprefix-preferred-lifetime = 14400\nrdnss = ["2001:db8:1::1"]\n'
                b'rdnss-lifetime = 180\ndnssl = ["example.com"]\ndnssl-lifetime = 180\npref64 = "64:ff9b::/96"\n'
                b'pref64-lifetime = 180\n[ra.eth2]\n')
    with open(os.path.join(out, "config", "abuse-trail"), "wb") as f:
        f.write(b'[translator]\nprefix = "64:ff9b::/96"\npool4 = ["192.0.2.1"]\nport-block-size = 128\n'
                b'port-blocks-per-host = 2\nport-block-hold = 30\n[gateway]\nipv4 = "198.51.100.1"\n'
                b'ipv6 = "2001:db8:1::1"\n[mapping-log]\nenabled = true\npath = "/tmp/m.log"\ndetail = "session"\n'
                b'[ipfix]\nenabled = true\ncollectors = ["198.51.100.7:4739"]\n[policy]\n'
                b'rules = ["2001:db8::/32 deny tcp/25", "2001:db8:1::/48 limit any 50"]\n')


if __name__ == "__main__":
    main(sys.argv[1])
