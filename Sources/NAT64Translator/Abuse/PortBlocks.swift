// Port blocks (RFC 7422 bulk port allocation): with `PortBlockSettings.size` > 0 an IPv6 host in
// NAPT mode gets its pool4 ports in blocks of `size` consecutive ports on one pool4 address, up to `perHost`
// blocks, so the mapping log needs one line per block rather than one per session. Inside a block the port is
// still chosen at random (RFC 6056 §3.3.1, Algorithm 1: random start, then a linear search) and the block is
// shared by TCP, UDP and ICMP (a port of the block is free per protocol). A block whose last BIB entry ends is
// held for `hold` (so a port is not handed to another host right after an abuse-relevant use) and then freed.
//
// Blocks cover each pool4 address's port range from 1024 up (RFC 4787 REQ-3 allows a privileged source port
// to be mapped above 1023); an address whose range lies below 1024 uses its range as it is. Everything is
// allocated at init; assignment scans a bounded number of blocks; the hold queue is a preallocated ring.

/// `translator.port-block-size`, `port-blocks-per-host`, `port-block-hold`.
public struct PortBlockSettings: Sendable, Equatable {
    /// Ports per block; 0 = no blocks (ports one by one, the RFC 6146 default).
    public var size: Int
    /// Most blocks one IPv6 host holds at once.
    public var perHost: Int
    /// How long an unused block stays with its host before it is freed.
    public var hold: Nanoseconds

    public init(size: Int = 0, perHost: Int = 4, holdSeconds: Int = 120) {
        self.size = size
        self.perHost = perHost
        hold = Nanoseconds(holdSeconds) * 1_000_000_000
    }
}

/// Port block counters (read under the table lock).
public struct PortBlockCounters: Sendable, Equatable {
    /// Blocks held by hosts now (in use or in their hold time).
    public var inUse = 0
    /// Blocks that exist.
    public var total = 0
    /// Blocks handed out since start.
    public var assigned: UInt64 = 0
    /// Blocks freed after their hold time.
    public var released: UInt64 = 0
    /// New mappings refused because the host's blocks were full and no further block could be had.
    public var exhausted: UInt64 = 0
    public init() {}
}

/// One block of ports. `owner` is the host slot, or `BindingTable.none` while free.
@usableFromInline
struct PortBlock {
    var owner: UInt32
    var address: UInt32
    var start: UInt16
    var queued: Bool
    var bibCount: UInt32
    /// When the hold ends (valid while bibCount == 0 and owned).
    var holdUntil: Nanoseconds
    /// The deadline the block had when it entered the hold queue (the queue is ordered by it).
    var queuedUntil: Nanoseconds
}

/// The block slab, per-host block lists and the hold queue (preallocated; used under the table lock).
@usableFromInline
final class PortBlockTable: @unchecked Sendable {
    // @unchecked: mutated only by the thread holding the owning table's lock.
    let settings: PortBlockSettings
    /// First block index, first port and block count of each pool4 entry (same order as `BindingTable.pool`).
    let base: [Int]
    let firstPort: [UInt16]
    let perAddress: [Int]
    let count: Int
    let blocks: UnsafeMutablePointer<PortBlock>
    /// `perHost` block ids per host slot.
    let hostBlocks: UnsafeMutablePointer<UInt32>
    let hostBlockCount: UnsafeMutablePointer<UInt8>
    let queue: UnsafeMutablePointer<UInt32>
    var queueHead = 0
    var queueCount = 0
    var counters = PortBlockCounters()

    init(settings: PortBlockSettings, pool: [Pool4Entry], hostCapacity: Int) {
        self.settings = settings
        var base: [Int] = []
        var firstPort: [UInt16] = []
        var perAddress: [Int] = []
        var total = 0
        for e in pool {
            let lo = e.ports.upperBound >= 1024 ? max(1024, e.ports.lowerBound) : e.ports.lowerBound
            let width = Int(e.ports.upperBound) - Int(lo) + 1
            base.append(total)
            firstPort.append(lo)
            perAddress.append(width / settings.size)
            total += width / settings.size
        }
        self.base = base
        self.firstPort = firstPort
        self.perAddress = perAddress
        count = total
        blocks = .allocate(capacity: max(1, total))
        for k in pool.indices {
            for j in 0..<perAddress[k] {
                (blocks + base[k] + j).initialize(to: PortBlock(
                    owner: BindingTable.none, address: pool[k].address.value,
                    start: UInt16(Int(firstPort[k]) + j * settings.size), queued: false, bibCount: 0, holdUntil: 0,
                    queuedUntil: 0))
            }
        }
        hostBlocks = .allocate(capacity: hostCapacity * settings.perHost)
        hostBlocks.initialize(repeating: BindingTable.none, count: hostCapacity * settings.perHost)
        hostBlockCount = .allocate(capacity: hostCapacity)
        hostBlockCount.initialize(repeating: 0, count: hostCapacity)
        queue = .allocate(capacity: max(1, total))
        counters.total = total
    }

    deinit {
        blocks.deallocate()
        hostBlocks.deallocate()
        hostBlockCount.deallocate()
        queue.deallocate()
    }

    /// The block holding `port` on pool4 address index `k`, if the port lies in a block.
    func block(poolIndex k: Int, port: UInt16) -> Int? {
        guard port >= firstPort[k] else { return nil }
        let j = (Int(port) - Int(firstPort[k])) / settings.size
        return j < perAddress[k] ? base[k] + j : nil
    }

    func push(_ b: Int) {
        queue[(queueHead + queueCount) % count] = UInt32(b)
        queueCount += 1
        blocks[b].queued = true
        blocks[b].queuedUntil = blocks[b].holdUntil
    }
}

extension BindingTable {
    /// The port block counters (zero when blocks are off).
    public var portBlockCounters: PortBlockCounters { portBlocks?.counters ?? PortBlockCounters() }

    /// The index in `pool` of pool4 address `o4` (pool4 is short; only on mapping creation and deletion).
    func poolIndex(_ o4: UInt32) -> Int? { pool.firstIndex { $0.address.value == o4 } }

    /// A free (address, port) for a new BIB entry of NAPT host `h` inside its blocks, assigning a further
    /// block when its blocks are full (RFC 7422). Nil, counted as exhausted, when none can be had.
    func allocateInBlocks(_ blocks: PortBlockTable, host h: UInt32, proto: UInt8, now: Nanoseconds) -> (UInt32, UInt16)? {
        var probesLeft = maximumProbes
        let owned = Int(blocks.hostBlockCount[Int(h)])
        for i in 0..<owned {
            let b = Int(blocks.hostBlocks[Int(h) * blocks.settings.perHost + i])
            if let port = freePort(in: b, blocks, proto: proto, probes: &probesLeft) {
                return (blocks.blocks[b].address, port)
            }
            if probesLeft == 0 { break }
        }
        if owned < blocks.settings.perHost, let b = assignBlock(blocks, host: h, now: now) {
            var probes = maximumProbes
            if let port = freePort(in: b, blocks, proto: proto, probes: &probes) {
                return (blocks.blocks[b].address, port)
            }
        }
        blocks.counters.exhausted &+= 1
        return nil
    }

    /// RFC 6056 §3.3.1 inside one block: a random start, then a linear search with wrap-around.
    private func freePort(in b: Int, _ blocks: PortBlockTable, proto: UInt8, probes: inout Int) -> UInt16? {
        let size = UInt32(blocks.settings.size)
        let start = UInt32(blocks.blocks[b].start)
        let address = blocks.blocks[b].address
        var offset = UInt32(truncatingIfNeeded: meta.pointee.random.next() % UInt64(size))
        for _ in 0..<min(Int(size), probes) {
            let port = UInt16(start + offset)
            probes -= 1
            if findBIB(outside4: address, port: port, proto: proto) == nil { return port }
            offset = offset + 1 == size ? 0 : offset + 1
        }
        return nil
    }

    /// Gives host `h` a free block: on the address of its other blocks if it has some (RFC 4787 REQ-2, one
    /// external address per host), else on the address its keyed hash picks; other addresses only when that
    /// one has no free block. The search starts at a random block of each address.
    private func assignBlock(_ blocks: PortBlockTable, host h: UInt32, now: Nanoseconds) -> Int? {
        guard !pool.isEmpty else { return nil }
        let perHost = blocks.settings.perHost
        var first = Int(hostHash(hosts[Int(h)].address) % UInt32(pool.count))
        if blocks.hostBlockCount[Int(h)] > 0, let k = poolIndex(blocks.blocks[Int(blocks.hostBlocks[Int(h) * perHost])].address) {
            first = k
        }
        for step in 0..<pool.count {
            let k = (first + step) % pool.count
            let n = blocks.perAddress[k]
            guard n > 0 else { continue }
            let r = Int(meta.pointee.random.next() % UInt64(n))
            for j in 0..<n {
                let b = blocks.base[k] + (r + j) % n
                guard blocks.blocks[b].owner == BindingTable.none else { continue }
                blocks.blocks[b].owner = h
                blocks.blocks[b].bibCount = 0
                // A new block with no mapping yet: if its first mapping fails, the hold frees it.
                blocks.blocks[b].holdUntil = now &+ blocks.settings.hold
                if !blocks.blocks[b].queued { blocks.push(b) }
                let i = Int(blocks.hostBlockCount[Int(h)])
                blocks.hostBlocks[Int(h) * perHost + i] = UInt32(b)
                blocks.hostBlockCount[Int(h)] += 1
                blocks.counters.inUse += 1
                blocks.counters.assigned &+= 1
                emitBlock(.blockAssigned, blocks, b, reason: .none, now: now)
                return b
            }
        }
        return nil
    }

    private func emitBlock(_ kind: MappingEvent.Kind, _ blocks: PortBlockTable, _ b: Int, reason: MappingEvent.Reason,
                           now: Nanoseconds) {
        guard let hook = onMappingEvent else { return }
        let e = blocks.blocks[b]
        hook(MappingEvent(kind: kind, time: now, proto: 0, inside: hosts[Int(e.owner)].address, insidePort: 0,
                          outside: IPv4Address(e.address), outsidePort: e.start,
                          portCount: UInt16(truncatingIfNeeded: blocks.settings.size), reason: reason))
    }

    /// A BIB entry of a NAPT host was made on (o4, port): its block counts one more mapping.
    func blockGained(_ o4: UInt32, _ port: UInt16) {
        guard let blocks = portBlocks, let k = poolIndex(o4), let b = blocks.block(poolIndex: k, port: port) else { return }
        blocks.blocks[b].bibCount += 1
    }

    /// A BIB entry on (o4, port) ended: when it was its block's last, the block's hold starts.
    func blockLost(_ o4: UInt32, _ port: UInt16, now: Nanoseconds) {
        guard let blocks = portBlocks, let k = poolIndex(o4), let b = blocks.block(poolIndex: k, port: port),
              blocks.blocks[b].bibCount > 0
        else { return }
        blocks.blocks[b].bibCount -= 1
        if blocks.blocks[b].bibCount == 0 {
            blocks.blocks[b].holdUntil = now &+ blocks.settings.hold
            if !blocks.blocks[b].queued { blocks.push(b) }
        }
    }

    /// Whether host `h` still holds blocks (it then stays in the host table until they are freed).
    func hostHoldsBlocks(_ h: UInt32) -> Bool {
        guard let blocks = portBlocks else { return false }
        return blocks.hostBlockCount[Int(h)] > 0
    }

    /// Frees the blocks whose hold time has passed (from `expire`, about once a second; bounded by the queue).
    func releaseIdleBlocks(now: Nanoseconds) {
        guard let blocks = portBlocks else { return }
        var examined = 0
        let limit = blocks.queueCount
        while blocks.queueCount > 0 && examined < limit {
            let b = Int(blocks.queue[blocks.queueHead])
            // The queue is ordered by the deadline each block had when it entered it.
            if blocks.blocks[b].queuedUntil > now { return }
            examined += 1
            blocks.queueHead = (blocks.queueHead + 1) % blocks.count
            blocks.queueCount -= 1
            blocks.blocks[b].queued = false
            guard blocks.blocks[b].owner != BindingTable.none, blocks.blocks[b].bibCount == 0 else { continue }
            if blocks.blocks[b].holdUntil > now {
                blocks.push(b)  // used again and idle again since it was queued: wait for its later deadline
                continue
            }
            emitBlock(.blockReleased, blocks, b, reason: .idle, now: now)
            let h = blocks.blocks[b].owner
            let list = Int(h) * blocks.settings.perHost
            let n = Int(blocks.hostBlockCount[Int(h)])
            for i in 0..<n where Int(blocks.hostBlocks[list + i]) == b {
                blocks.hostBlocks[list + i] = blocks.hostBlocks[list + n - 1]
                blocks.hostBlocks[list + n - 1] = BindingTable.none
                break
            }
            blocks.hostBlockCount[Int(h)] -= 1
            blocks.blocks[b].owner = BindingTable.none
            blocks.counters.inUse -= 1
            blocks.counters.released &+= 1
            releaseHostIfIdle(h)
        }
    }

    /// Who holds pool4 port `port` on `address` now: its BIB entries (TCP, UDP, ICMP) and the block around it.
    public func holders(of address: IPv4Address, port: UInt16) -> [PortHolder] {
        var out: [PortHolder] = []
        for proto in [IPProtocolNumber.tcp, IPProtocolNumber.udp, IPProtocolNumber.icmp] {
            guard let b = findBIB(outside4: address.value, port: port, proto: proto) else { continue }
            let e = bibs[Int(b)]
            var since: Nanoseconds?
            var s = e.sessionHead
            while s != BindingTable.none {
                since = min(since ?? .max, sessions[Int(s)].created)
                s = sessions[Int(s)].bibNext
            }
            out.append(PortHolder(proto: proto, inside: e.inside, insidePort: e.insidePort, outside: address,
                                  outsidePort: port, portCount: 1, since: since, held: false))
        }
        if let blocks = portBlocks, let k = poolIndex(address.value), let b = blocks.block(poolIndex: k, port: port),
           blocks.blocks[b].owner != BindingTable.none
        {
            let e = blocks.blocks[b]
            out.append(PortHolder(proto: 0, inside: hosts[Int(e.owner)].address, insidePort: 0, outside: address,
                                  outsidePort: e.start, portCount: UInt16(truncatingIfNeeded: blocks.settings.size),
                                  since: nil, held: e.bibCount == 0))
        }
        return out
    }
}
