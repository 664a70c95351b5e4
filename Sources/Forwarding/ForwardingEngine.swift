// The packet loop's body, shared line for line by the daemon (`ForwardingThread` on a TUN queue) and by
// `nat64d replay` (`Replay` on a capture file): read a batch from a device, give each packet to the translator,
// write what the verdict says (the packet, its fragments, or the ICMP error), tell the capture tap; and, once a
// second of the caller's clock, housekeeping (expiry, the S6 answers to held SYNs, capture flush).
//
// The engine never reads a clock: `now` comes from the caller (the monotonic clock live, the file's
// timestamps in replay, a number in tests). It owns its translator and buffers (`~Copyable`: one owner, one
// thread), so nothing on the path is shared or allocated per packet.
import NAT64Translator

/// One packet thread's translator, buffers and counters.
public struct ForwardingEngine: ~Copyable {
    /// How often housekeeping runs (mapping expiry, held-SYN errors, fragment timeouts, capture flush).
    public static let housekeepingInterval: Nanoseconds = 1_000_000_000
    /// Mappings visited per housekeeping pass (bounded work per tick; a full sweep takes capacity/budget ticks).
    public static let expiryBudget = 4096

    /// The translator; only this engine's thread touches it.
    public var translator: Translator
    var batch: PacketBatch
    var reply: PacketBuffer
    /// What the engine did (packets, batches, housekeeping).
    public private(set) var stats = EngineStats()
    /// Packets read per batch.
    public var batchCapacity: Int { batch.capacity }
    /// When housekeeping last ran (nil before the first packet or tick).
    public private(set) var lastHousekeeping: Nanoseconds?

    /// - Parameters:
    ///   - translator: the translator this engine owns from now on.
    ///   - batchSize: packets read per wake-up before they are translated and written.
    public init(translator: consuming Translator, batchSize: Int = 64) {
        self.translator = translator
        batch = PacketBatch(capacity: batchSize)
        reply = PacketBuffer(capacity: PacketBuffer.headroom + 2048)
    }

    /// Reads one batch from `device`, translates every packet and writes the results back to it.
    ///
    /// - Parameters:
    ///   - device: where packets come from and go to.
    ///   - tap: the capture hooks (`NoCapture` compiles to nothing).
    ///   - now: the caller's clock for this batch.
    /// - Returns: how many packets were read (0: nothing was queued).
    /// - Throws: the device's error when it is gone.
    public mutating func forwardBatch<Device: PacketDevice & ~Copyable, Tap: PacketTap>(
        _ device: inout Device, tap: Tap, now: Nanoseconds
    ) throws(DeviceError) -> Int {
        let n = try device.readBatch(into: &batch)
        guard n > 0 else { return 0 }
        stats.batches &+= 1
        stats.packets &+= UInt64(n)
        for i in 0..<n {
            forwardOne(slot: i, device: &device, tap: tap, now: now)
        }
        return n
    }

    mutating func forwardOne<Device: PacketDevice & ~Copyable, Tap: PacketTap>(
        slot i: Int, device: inout Device, tap: Tap, now: Nanoseconds
    ) {
        let packet = batch.slots + i
        tap.stash(UnsafeRawBufferPointer(packet.pointee.packet))
        let verdict = translator.translate(&packet.pointee, reply: &reply, now: now)
        switch verdict {
        case .translated:
            let out = UnsafeRawBufferPointer(packet.pointee.packet)
            tap.record(verdict, output: out)
            device.write(out, offload: packet.pointee.offload)
        case .icmpError:
            let out = UnsafeRawBufferPointer(reply.packet)
            tap.record(verdict, output: out)
            device.write(out, offload: .plain)
        case .translatedFragments(let count):
            for k in 0..<count {
                let fragment = translator.fragment(at: k)
                if k == 0 { tap.record(verdict, output: fragment) } else { tap.recordAdditional(output: fragment) }
                device.write(fragment, offload: .plain)
            }
        case .drop:
            tap.record(verdict, output: UnsafeRawBufferPointer(start: nil, count: 0))
        }
    }

    /// Runs housekeeping when `housekeepingInterval` has passed since the last run (the first call only starts
    /// the interval): expires idle mappings and held fragments, answers SYNs held for 6 s with ICMPv4 3/3
    /// (S6), and flushes the capture.
    ///
    /// - Returns: true when housekeeping ran.
    @discardableResult
    public mutating func housekeepingIfDue<Device: PacketDevice & ~Copyable, Tap: PacketTap>(
        _ device: inout Device, tap: Tap, now: Nanoseconds
    ) -> Bool {
        guard let last = lastHousekeeping else {
            lastHousekeeping = now
            return false
        }
        guard now - last >= Self.housekeepingInterval else { return false }
        housekeeping(&device, tap: tap, now: now)
        return true
    }

    /// Runs one housekeeping pass at `now` (see `housekeepingIfDue`).
    public mutating func housekeeping<Device: PacketDevice & ~Copyable, Tap: PacketTap>(
        _ device: inout Device, tap: Tap, now: Nanoseconds
    ) {
        lastHousekeeping = now
        stats.housekeepingRuns &+= 1
        stats.expired &+= UInt64(translator.expire(now: now, budget: Self.expiryBudget))
        while translator.heldSYNError(now: now, into: &reply) {  // S6: ICMPv4 3/3 (RFC6146/SimultaneousOpen.swift)
            let out = UnsafeRawBufferPointer(reply.packet)
            tap.recordGenerated(out)
            device.write(out, offload: .plain)
            stats.generatedErrors &+= 1
        }
        tap.flush()
    }
}

/// What one engine did.
public struct EngineStats: Equatable, Sendable {
    /// Packets read from the device.
    public var packets: UInt64 = 0
    /// Non-empty batches read.
    public var batches: UInt64 = 0
    /// Housekeeping passes.
    public var housekeepingRuns: UInt64 = 0
    /// Mappings expired by housekeeping.
    public var expired: UInt64 = 0
    /// Packets the engine generated on its own timer (S6 ICMPv4 3/3 for held SYNs).
    public var generatedErrors: UInt64 = 0

    public init() {}

    /// Adds `other` (several queues into one total).
    public mutating func add(_ other: EngineStats) {
        packets &+= other.packets
        batches &+= other.batches
        housekeepingRuns &+= other.housekeepingRuns
        expired &+= other.expired
        generatedErrors &+= other.generatedErrors
    }
}
