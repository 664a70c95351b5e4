// T6.11 (and its IPv4 counterpart): an ICMP message's checksum covers the whole message, and ICMPv6's covers a
// pseudo-header too, so a fragmented ICMP echo cannot be translated fragment by fragment. A stateful translator
// reassembles it: fragments are collected here (bounded: a few datagrams of at most 64 KiB, 2 s each), and the
// whole message is translated once it is complete. Large pings (`ping -s 3000`) work through the gateway.
//
// Overlapping fragments discard the datagram (RFC 5722 for IPv6; the same caution for IPv4). Memory is
// allocated once, when the translator is created; nothing is allocated per fragment.
//
// S12 fairness: one source may reassemble at most `perSource` datagrams at once, and when every slot is busy a
// new datagram takes the slot of the source holding the most (its oldest datagram), as long as that source holds
// more than the new one's: spoofed first fragments from many sources no longer lock large pings out for 2 s.

/// Collects fragments of ICMP/ICMPv6 datagrams until they are complete.
@usableFromInline
final class ICMPReassembly {
    /// Datagrams under reassembly at once.
    static let slots = 8
    /// Datagrams one source may have under reassembly at once (S12).
    static let perSource = 2
    /// Largest reassembled payload (after the IP header).
    static let maximumPayload = 65_535
    /// Fragments of one datagram arrive within this time (conformance S4: fragments 2 s).
    static let lifetime: Nanoseconds = 2_000_000_000

    struct Key: Equatable {
        var source: IPv6Address
        var destination: IPv6Address
        var identification: UInt32
        var version: UInt8
    }

    struct Slot {
        var key: Key?
        var started: Nanoseconds = 0
        /// Payload length, known once the last fragment (M = 0) arrived.
        var total: Int = -1
        var received: Int = 0
        /// The IP header of the first fragment (offset 0), once it arrived.
        var headerLength: Int = 0
    }

    private var table = [Slot](repeating: Slot(), count: ICMPReassembly.slots)
    /// Per slot: IP header (≤ 60 bytes, kept in 64) + payload.
    private let data: UnsafeMutableRawPointer
    /// Per slot: one bit per 8-byte block of payload.
    private let bitmaps: UnsafeMutablePointer<UInt64>
    private static let stride = 64 + maximumPayload + 1
    private static let bitmapWords = (maximumPayload / 8 + 64) / 64

    init() {
        data = UnsafeMutableRawPointer.allocate(byteCount: ICMPReassembly.slots * ICMPReassembly.stride, alignment: 16)
        bitmaps = .allocate(capacity: ICMPReassembly.slots * ICMPReassembly.bitmapWords)
        bitmaps.initialize(repeating: 0, count: ICMPReassembly.slots * ICMPReassembly.bitmapWords)
    }

    deinit {
        data.deallocate()
        bitmaps.deallocate()
    }

    /// What adding a fragment did.
    enum Outcome: Equatable {
        /// Kept; the datagram is not complete yet.
        case held
        /// Complete: the whole datagram is now in the packet buffer (unfragmented, same IP version).
        case complete
        /// Refused: overlap, too large, or no room.
        case refused(DropReason)
        /// Kept, in the slot of another source's older datagram, which is lost (S12).
        case heldEvicting
    }

    /// Adds one fragment. On `.complete`, `packet` holds the reassembled datagram without fragmentation fields
    /// (IPv6: next header = the upper layer; IPv4: MF = 0, offset 0, DF = 0).
    ///
    /// - Parameters:
    ///   - header: bytes of the IP header to keep for the result (IPv6: the 40-byte fixed header; IPv4: the
    ///     whole header with options), taken from the first fragment.
    ///   - payloadOffset: where the fragment's data starts in `packet`.
    ///   - offset, more: the fragment's position (bytes) and More Fragments flag.
    func add(_ packet: inout PacketBuffer, key: Key, headerLength: Int, payloadOffset: Int, offset: Int, more: Bool,
             upperProtocol: UInt8, now: Nanoseconds) -> Outcome {
        let length = packet.count - payloadOffset
        guard offset + length <= ICMPReassembly.maximumPayload, length > 0, more ? length % 8 == 0 : true else {
            return .refused(.tooBig)
        }
        guard let (s, evicted) = slot(for: key, now: now) else { return .refused(.heldPacketLimit) }
        let base = data + s * ICMPReassembly.stride
        let bits = bitmaps + s * ICMPReassembly.bitmapWords
        // Overlap check and marking, 8-byte blocks (the last fragment may end inside a block).
        let firstBlock = offset / 8
        let lastBlock = (offset + length - 1) / 8
        for b in firstBlock...lastBlock where bits[b / 64] & (1 << UInt64(b % 64)) != 0 {
            release(s)
            return .refused(.fragmentOverlap)
        }
        for b in firstBlock...lastBlock { bits[b / 64] |= 1 << UInt64(b % 64) }
        (base + 64 + offset).copyMemory(from: packet.base + packet.start + payloadOffset, byteCount: length)
        table[s].received += length
        if !more {
            if table[s].total >= 0 && table[s].total != offset + length {
                release(s)
                return .refused(.fragmentOverlap)
            }
            table[s].total = offset + length
        }
        if offset == 0 {
            base.copyMemory(from: packet.base + packet.start, byteCount: headerLength)
            table[s].headerLength = headerLength
        }
        let slotState = table[s]
        guard slotState.total >= 0, slotState.received == slotState.total, slotState.headerLength > 0 else {
            return evicted ? .heldEvicting : .held
        }
        // Complete: rebuild an unfragmented datagram in the packet buffer.
        let out = packet.base + PacketBuffer.headroom
        let total = slotState.headerLength + slotState.total
        guard PacketBuffer.headroom + total <= packet.capacity else {
            release(s)
            return .refused(.tooBig)
        }
        if key.version == 6 {
            // The fixed header, then an atomic Fragment header (offset 0, M = 0) so translation treats the
            // datagram as the fragmented one it was: DF = 0 and the identification carried over (T6.4).
            guard PacketBuffer.headroom + total + 8 <= packet.capacity, slotState.total + 8 <= 0xFFFF else {
                release(s)
                return .refused(.tooBig)
            }
            out.copyMemory(from: base, byteCount: IPv6Field.headerLength)
            out.setBE16(IPv6Field.payloadLength, UInt16(slotState.total + 8))
            out.setU8(IPv6Field.nextHeader, IPProtocolNumber.fragment)
            let f = out + IPv6Field.headerLength
            f.setU8(0, upperProtocol)
            f.setU8(1, 0)
            f.setBE16(2, 0)
            f.setBE32(4, key.identification)
            (f + 8).copyMemory(from: base + 64, byteCount: slotState.total)
            packet.start = PacketBuffer.headroom
            packet.count = IPv6Field.headerLength + 8 + slotState.total
            packet.offload = .plain
            release(s)
            return .complete
        } else {
            out.copyMemory(from: base, byteCount: slotState.headerLength)
            (out + slotState.headerLength).copyMemory(from: base + 64, byteCount: slotState.total)
            guard total <= 0xFFFF else { release(s); return .refused(.tooBig) }
            out.setBE16(IPv4Field.totalLength, UInt16(total))
            out.setBE16(IPv4Field.flagsFragmentOffset, 0)
            out.setBE16(IPv4Field.checksum, 0)
            out.setBE16(IPv4Field.checksum, InternetChecksum.finish(
                InternetChecksum.sum(UnsafeRawPointer(out), count: slotState.headerLength)))
        }
        packet.start = PacketBuffer.headroom
        packet.count = total
        packet.offload = .plain
        release(s)
        return .complete
    }

    /// The slot of `key`, or a free / expired one for it, or (S12) the oldest slot of the source holding the
    /// most when that is more than `key`'s source holds; nil when the source is at `perSource` or no slot can
    /// be had. `evicted` tells that another datagram was dropped for it.
    private func slot(for key: Key, now: Nanoseconds) -> (slot: Int, evicted: Bool)? {
        var free: Int?
        var own = 0
        for i in 0..<ICMPReassembly.slots {
            if let k = table[i].key {
                if now - table[i].started > ICMPReassembly.lifetime {
                    release(i)
                    if free == nil { free = i }
                } else if k == key {
                    return (i, false)
                } else if k.source == key.source {
                    own += 1
                }
            } else if free == nil {
                free = i
            }
        }
        guard own < ICMPReassembly.perSource else { return nil }
        if let f = free {
            table[f] = Slot(key: key, started: now)
            return (f, false)
        }
        // Every slot is busy with a live datagram: find the source holding the most, its oldest datagram.
        var victim = -1
        var victimHolds = 0
        for i in 0..<ICMPReassembly.slots {
            guard let source = table[i].key?.source else { continue }
            var holds = 0
            for j in 0..<ICMPReassembly.slots where table[j].key?.source == source { holds += 1 }
            if holds > victimHolds || (holds == victimHolds && table[i].started < table[victim].started) {
                victim = i
                victimHolds = holds
            }
        }
        guard victim >= 0, victimHolds > own else { return nil }
        release(victim)
        table[victim] = Slot(key: key, started: now)
        return (victim, true)
    }

    /// Forgets every datagram under reassembly (a reset; no allocation).
    func removeAll() {
        for i in 0..<ICMPReassembly.slots where table[i].key != nil { release(i) }
    }

    private func release(_ i: Int) {
        table[i] = Slot()
        (bitmaps + i * ICMPReassembly.bitmapWords).update(repeating: 0, count: ICMPReassembly.bitmapWords)
    }
}
