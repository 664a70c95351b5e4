#!/usr/bin/python3
"""IPv4-initiated TCP SYN toward the translator for scripts/netns-state-test.sh.

  syn-probe.py IFACE SRC DST SPORT DPORT WAIT_S
      Sends one TCP SYN from SRC:SPORT to DST:DPORT on IFACE and waits up to
      WAIT_S for an ICMP message addressed to SRC (RFC 6146 §3.5.2.2, S6: a
      SYN without a mapping is held 6 s, then answered with ICMPv4 3/3).
      Prints "icmp TYPE/CODE from ADDR inner-dst ADDR:PORT after SECONDS" or
      "no icmp after SECONDS"; exit 0 when an ICMP message arrived (the
      caller checks the rest).

Needs scapy: run with /usr/bin/python3 (Debian's python3-scapy).
"""
import sys
import time

from scapy.all import ICMP, IP, TCP, AsyncSniffer, IPerror, TCPerror, conf, send  # type: ignore


def main(argv: list[str]) -> int:
    if len(argv) != 7:
        print(__doc__, file=sys.stderr)
        return 2
    iface, src, dst = argv[1], argv[2], argv[3]
    sport, dport, wait = int(argv[4]), int(argv[5]), float(argv[6])
    conf.verb = 0
    syn = IP(src=src, dst=dst, ttl=64) / TCP(sport=sport, dport=dport, flags="S", seq=1000, window=64240)
    sniffer = AsyncSniffer(iface=iface, filter=f"icmp and dst host {src}", count=1, timeout=wait)
    sniffer.start()
    time.sleep(0.5)  # let the capture socket attach before sending
    sent = time.time()
    send(syn)
    sniffer.join()
    packets = sniffer.results or []
    if not packets:
        print(f"no icmp after {time.time() - sent:.2f}", flush=True)
        return 1
    pkt = packets[0]
    # The capture timestamp: when the ICMP message arrived, not when join() returned.
    elapsed = float(pkt.time) - sent
    icmp = pkt[ICMP]
    inner = f"{pkt[IPerror].dst}:{pkt[TCPerror].dport}" if IPerror in pkt and TCPerror in pkt else "?"
    print(f"icmp {icmp.type}/{icmp.code} from {pkt[IP].src} inner-dst {inner} after {elapsed:.2f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
