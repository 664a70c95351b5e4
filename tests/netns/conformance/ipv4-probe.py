#!/usr/bin/python3
"""IPv4 probes toward the translator for scripts/netns-conformance-test.sh.

  ipv4-probe.py IFACE SRC DST WAIT_S lsrr NEXT_HOP
      T4.3: one UDP datagram to DST carrying an unexpired loose source route
      option (LSRR, pointer 4, route data NEXT_HOP).
  ipv4-probe.py IFACE SRC DST WAIT_S ttl TTL [SPORT DPORT]
      T4.2 / E1: one UDP datagram to DST sent with IP TTL TTL (ports 40000 ->
      40001 unless given, e.g. to follow an existing mapping).

Sends from SRC on IFACE and waits up to WAIT_S for an ICMP message addressed
to SRC. Prints "icmp TYPE/CODE from ADDR inner-dst INNER_DST" or "no icmp";
exit 0 when an ICMP message arrived (the caller checks type and code).

Needs scapy: run with /usr/bin/python3 (Debian's python3-scapy).
"""
import sys
import time

from scapy.all import ICMP, IP, UDP, AsyncSniffer, IPOption_LSRR, IPerror, conf, send  # type: ignore


def main(argv: list[str]) -> int:
    if not (len(argv) == 7 and argv[5] in ("lsrr", "ttl") or len(argv) == 9 and argv[5] == "ttl"):
        print(__doc__, file=sys.stderr)
        return 2
    iface, src, dst, wait, mode, arg = argv[1], argv[2], argv[3], float(argv[4]), argv[5], argv[6]
    sport, dport = (int(argv[7]), int(argv[8])) if len(argv) == 9 else (40000, 40001)
    conf.verb = 0
    if mode == "lsrr":
        ip = IP(src=src, dst=dst, ttl=64, options=[IPOption_LSRR(pointer=4, routers=[arg])])
    else:
        ip = IP(src=src, dst=dst, ttl=int(arg))
    probe = ip / UDP(sport=sport, dport=dport) / f"nat64d-{mode}-probe".encode()
    sniffer = AsyncSniffer(iface=iface, filter=f"icmp and dst host {src}", count=1, timeout=wait)
    sniffer.start()
    time.sleep(0.5)  # let the capture socket attach before sending
    send(probe)
    sniffer.join()
    packets = sniffer.results or []
    if not packets:
        print("no icmp", flush=True)
        return 1
    pkt = packets[0]
    icmp = pkt[ICMP]
    inner = pkt[IPerror].dst if IPerror in pkt else "?"
    print(f"icmp {icmp.type}/{icmp.code} from {pkt[IP].src} inner-dst {inner}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
