// The sender: one loop (`run`, on a thread of the caller's) for every advertising interface. Each round it sends
// what is due, then polls the sockets and a wake-up pipe until the next advertisement is due (at most 1 s), and
// hands what it received to the interface's state. A few packets a minute: no event loop needed. `apply` swaps
// in new settings at once (RA15); `stop` ends the loop, which sends the final advertisements (RA14) and closes
// the sockets.

import NAT64Translator
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Sends router advertisements on a set of interfaces.
public final class RouterAdvertiser: Sendable {
    /// One interface and what it announces.
    public struct Interface: Sendable, Equatable {
        public var name: String
        public var settings: AdvertisementSettings
        public init(name: String, settings: AdvertisementSettings) {
            self.name = name
            self.settings = settings
        }
    }

    /// What an interface announces and what happened on it.
    public struct Status: Sendable {
        /// The interface.
        public var name: String
        /// What it announces (with the link-layer address found on the interface).
        public var settings: AdvertisementSettings
        /// Its counters.
        public var counters: RACounters
        /// Nanoseconds until the next advertisement (0 when due or stopped).
        public var nextIn: RATime
    }

    /// Opens the socket of an interface.
    public typealias Open = @Sendable (String) throws -> any NDTransport
    /// Reads the monotonic time in nanoseconds.
    public typealias Clock = @Sendable () -> RATime

    /// Most messages read from one socket per round, so a flood cannot hold the loop.
    static let receiveBatch = 64

    private struct Entry {
        var advertiser: InterfaceAdvertiser
        var transport: any NDTransport
    }

    private struct State {
        var entries: [Entry]
        var stopping = false
        var stopped = false
        var random = SystemRandomNumberGenerator()
    }

    private let state: Mutex<State>
    private let clock: Clock
    private let open: Open
    private let wakeRead: Int32
    private let wakeWrite: Int32

    /// Opens a socket per interface; nothing is sent until `run`.
    ///
    /// - Parameters:
    ///   - interfaces: the interfaces and their settings.
    ///   - clock: the monotonic time source.
    ///   - open: opens an interface's socket (`RawICMPv6Socket.init` in the daemon).
    /// - Throws: the first socket that could not be opened (the others are closed again).
    public init(interfaces: [Interface], clock: @escaping Clock, open: @escaping Open) throws {
        self.clock = clock
        self.open = open
        var fds: [Int32] = [0, 0]
        guard pipe(&fds) == 0 else { throw RASocketError(interface: "*", call: "pipe", code: errno) }
        for fd in fds { _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        let now = clock()
        var entries: [Entry] = []
        do {
            entries = try Self.openAll(interfaces, now: now, open: open)
        } catch {
            Glibc.close(fds[0])
            Glibc.close(fds[1])
            throw error
        }
        state = Mutex(State(entries: entries))
    }

    deinit {
        Glibc.close(wakeRead)
        Glibc.close(wakeWrite)
    }

    private static func openAll(_ interfaces: [Interface], now: RATime, open: Open) throws -> [Entry] {
        var entries: [Entry] = []
        do {
            for i in interfaces {
                let transport = try open(i.name)
                var settings = i.settings
                settings.sourceLinkLayerAddress = transport.linkLayerAddress
                entries.append(Entry(advertiser: InterfaceAdvertiser(name: i.name, settings: settings, now: now),
                                     transport: transport))
            }
        } catch {
            for e in entries { e.transport.close() }
            throw error
        }
        return entries
    }

    /// Sends and receives until `stop`, then sends each interface's final advertisement and closes the sockets.
    public func run() {
        while true {
            let round = state.withLock { s -> (timeout: Int32, descriptors: [Int32])? in
                if s.stopping { return nil }
                let now = clock()
                for i in s.entries.indices {
                    if let message = s.entries[i].advertiser.due(at: now) {
                        let ok = s.entries[i].transport.sendToAllNodes(message)
                        s.entries[i].advertiser.sent(at: now, ok: ok, using: &s.random)
                    }
                }
                let next = s.entries.map(\.advertiser.schedule.next).min() ?? now + 1_000_000_000
                let wait = max(0, min(1000, (next - now + 999_999) / 1_000_000))
                return (Int32(wait), s.entries.map(\.transport.descriptor))
            }
            guard let round else { break }
            var fds = ([wakeRead] + round.descriptors).map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
            guard poll(&fds, nfds_t(fds.count), round.timeout) > 0 else { continue }
            var byte: UInt8 = 0
            while read(wakeRead, &byte, 1) > 0 {}
            state.withLock { s in
                let now = clock()
                for i in s.entries.indices {
                    for _ in 0..<Self.receiveBatch {
                        guard let r = s.entries[i].transport.receive() else { break }
                        s.entries[i].advertiser.received(r.message, source: r.source, hopLimit: r.hopLimit, at: now,
                                                         using: &s.random)
                    }
                }
            }
        }
        state.withLock { s in
            for i in s.entries.indices { Self.retire(&s.entries[i]) }
            s.stopped = true
        }
    }

    /// Sends the final advertisement of an entry and closes its socket.
    private static func retire(_ entry: inout Entry) {
        if entry.transport.sendToAllNodes(entry.advertiser.finalAdvertisement) {
            entry.advertiser.counters.sent += 1
        } else {
            entry.advertiser.counters.sendErrors += 1
        }
        entry.transport.close()
    }

    /// Ends `run` (which sends the final advertisements); returns at once.
    public func stop() {
        state.withLock { $0.stopping = true }
        wake()
    }

    /// RA15: new settings, in effect at once: changed and added interfaces advertise immediately (then the fast
    /// initial ones), removed ones send their final advertisement.
    ///
    /// - Throws: when an added interface's socket cannot be opened; then nothing changes.
    public func apply(_ interfaces: [Interface]) throws {
        try state.withLock { s throws in
            guard !s.stopping else { return }
            let now = clock()
            let known = Set(s.entries.map(\.advertiser.name))
            var added = try Self.openAll(interfaces.filter { !known.contains($0.name) }, now: now, open: open)
            var kept: [Entry] = []
            for var entry in s.entries {
                if let new = interfaces.first(where: { $0.name == entry.advertiser.name }) {
                    entry.advertiser.apply(new.settings, at: now)
                    kept.append(entry)
                } else {
                    Self.retire(&entry)
                }
            }
            kept.append(contentsOf: added)
            added = []
            // Keep the configuration's order.
            s.entries = interfaces.compactMap { i in kept.first { $0.advertiser.name == i.name } }
        }
        wake()
    }

    /// Every interface's settings and counters.
    public func status() -> [Status] {
        state.withLock { s in
            let now = clock()
            return s.entries.map {
                Status(name: $0.advertiser.name, settings: $0.advertiser.settings, counters: $0.advertiser.counters,
                       nextIn: s.stopped ? 0 : max(0, $0.advertiser.schedule.next - now))
            }
        }
    }

    private func wake() {
        var byte: UInt8 = 1
        _ = write(wakeWrite, &byte, 1)
    }
}
