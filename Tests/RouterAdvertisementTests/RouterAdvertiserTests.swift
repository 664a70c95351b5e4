// The sender's loop on a socketpair instead of a raw socket, with a clock that never moves: anything it sends
// after the first advertisement was sent because of `apply` or `stop`, not because an interval ran out. The loop
// runs on its own pthread, as in the daemon: on Dispatch's shared pool it could wait behind other tests' blocked
// work for longer than the read guard (a CI run saw exactly that).

import Forwarding
import NAT64Translator
import Testing

@testable import RouterAdvertisement

#if canImport(Glibc)
import Glibc
#endif

/// Sends into one end of a datagram socketpair; the test reads them from the other.
final class SocketPairTransport: NDTransport, @unchecked Sendable {
    let descriptor: Int32
    let peer: Int32
    let linkLayerAddress: [UInt8]? = [2, 0, 0, 0, 0, 9]

    init() {
        var fds: [Int32] = [0, 0]
        precondition(socketpair(AF_UNIX, Int32(SOCK_DGRAM.rawValue), 0, &fds) == 0)
        descriptor = fds[0]
        peer = fds[1]
        // A guard against a hang if nothing is ever sent (the test then fails on an empty read).
        var timeout = timeval(tv_sec: 30, tv_usec: 0)
        setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func sendToAllNodes(_ message: [UInt8]) -> Bool {
        message.withUnsafeBytes { send(descriptor, $0.baseAddress, $0.count, 0) } == message.count
    }

    func receive() -> ReceivedND? { nil }

    func close() { Glibc.close(descriptor) }

    /// The next message the sender sent (empty after the 30 s guard).
    func nextSent() -> [UInt8] {
        var buffer = [UInt8](repeating: 0, count: 2048)
        var n: Int
        repeat {
            n = buffer.withUnsafeMutableBytes { recv(peer, $0.baseAddress, $0.count, 0) }
        } while n < 0 && errno == EINTR
        return n > 0 ? Array(buffer[..<n]) : []
    }
}

@Suite struct RouterAdvertiserTests {
    @Test func RA15_applyAnnouncesAtOnceAndRA14StopSendsTheFinalAdvertisement() throws {
        let transport = SocketPairTransport()
        var settings = AdvertisementSettings()
        settings.rdnss = [IPv6Address("2001:db8:1::1")!]
        let advertiser = try RouterAdvertiser(
            interfaces: [.init(name: "lan0", settings: settings)], clock: { 1_000 }, open: { _ in transport })
        let thread = try DedicatedThread(name: "test-ra") { advertiser.run() }
        settings.sourceLinkLayerAddress = transport.linkLayerAddress
        #expect(transport.nextSent() == RouterAdvertisementMessage.build(settings))

        var changed = settings
        changed.pref64 = NAT64Prefix("2001:db8:64::/96")!
        changed.rdnss = [IPv6Address("2001:db8:1::53")!]
        try advertiser.apply([.init(name: "lan0", settings: changed)])
        #expect(transport.nextSent() == RouterAdvertisementMessage.build(changed))

        advertiser.stop()
        thread.join()
        #expect(transport.nextSent() == RouterAdvertisementMessage.build(changed, final: true))
        let status = advertiser.status()
        #expect(status.map(\.name) == ["lan0"])
        #expect(status.first?.counters.sent == 3)
        #expect(status.first?.settings.pref64 == changed.pref64)
        Glibc.close(transport.peer)
    }
}
