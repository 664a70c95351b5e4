// Offload (`[proxy] offload = true`): a relayed connection handed to the kernel once its route is known and its
// first bytes are written, so that a bulk transfer costs what kernel forwarding costs instead of two TCP
// connections and a relay thread (docs/design.md, "Spliced proxy connections"; docs/performance.md).
//
// The proxy stays the one that decides: it accepts, reads the ClientHello or the request head, picks the
// backend, connects, writes the PROXY header and the first bytes, exactly as without offload. Only then does
// the relay thread hand the pair of connections to the fast path's program (FastPath+Splice.swift), which
// rewrites every segment of one connection into a segment of the other. Both connections carry the same byte
// stream, each byte at a fixed place in each sequence space, so the offsets are constants the relay thread
// computes from the two sockets (CSplice_tcp_state): a byte's place is the same whether it went through the
// relay or straight through the kernel, and the two paths may overlap.
//
// Rules (IP-O*, tested by scripts/netns-proxy-test.sh with NAT64D_PROXY_OFFLOAD=1):
//   IP-O1 a connection is handed over once it has moved `offload-after` bytes through the relay, both ways
//         together (default 256 KiB, so short exchanges never pay for it; 0: as soon as its first bytes are
//         written), and only one from an IPv4 client (the IPv6 side is always the backend) whose two TCP
//         connections agree on timestamps and SACK; the others stay on the relay (counted offload-declined),
//         as do all when the kernel's table is full.
//   IP-O2 while the splice is pending, the relay goes on moving what only its sockets received (the bytes
//         that reached them before the program carried their segments, measured 2 ms after it began) and
//         discards the copies that came after; the sockets' own acknowledgments are held back by the program
//         at what they had received when it began.
//   IP-O3 the splice completes once each socket's peer has acknowledged everything that socket owed: the
//         relay thread closes both sockets without a FIN or a reset (TCP_REPAIR), gives up the connection's
//         pipes and its place on the thread, and keeps its admission and route places until the kernel's
//         splice ends (a reset, a FIN each way, or the idle timeout).
//   IP-O4 a splice not complete within 3 s is abandoned: the program's entries go and the connection is
//         closed (counted offload-abandoned).
//   IP-O5 the proxy's IPv4 listeners announce an MSS that fits a full segment into the IPv6 side's MTU, and the
//         backend connection announces the client's MSS, so no spliced segment is too big for the other side.
import FastPath

/// What the relay threads need to hand a connection to the kernel (the fast path is the one there is).
public protocol ConnectionOffload: Sendable {
    /// The MSS the IPv4 listeners announce (IP-O5).
    var spliceClientMSS: Int { get }
    func beginSplice(_ ends: SpliceEnds, idleTimeout: UInt64,
                     ended: @escaping @Sendable (_ toBackend: UInt64, _ toClient: UInt64) -> Void) -> Int?
    func completeSplice(_ slot: Int)
    func abandonSplice(_ slot: Int)
}

extension FastPath: ConnectionOffload {}

/// A connection's splice while it is pending (owned by its relay thread).
final class PendingSplice {
    let slot: Int
    let started: UInt64
    /// Bytes of the client's stream that had reached the proxy's socket at the boundary (IP-O2), and of the
    /// backend's stream; nil until measured.
    var clientBoundary: UInt64?
    var backendBoundary: UInt64?

    init(slot: Int, started: UInt64) {
        self.slot = slot
        self.started = started
    }
}
