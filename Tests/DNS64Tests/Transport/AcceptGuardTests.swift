// The accept guard every TCP listener carries: failures are all counted, logged on the first and then at most
// once per interval (time injected); a shortage takes the listener off the event loop's poll set for the
// pause and puts it back after.
import Logging
import NIOCore
import NIOPosix
import Testing

@testable import Listening

#if canImport(Glibc)
import Glibc
#endif

@Suite struct AcceptGuardTests {
    @Test func everyFailureCountedOneLogLinePerInterval() {
        let errors = AcceptErrors()
        let second: UInt64 = 1_000_000_000
        var logged: [UInt64] = []
        for t in stride(from: 5 * second, to: 200 * second, by: Int(second / 2)) {
            if errors.record(now: t, interval: 60 * second) { logged.append(t / second) }
        }
        #expect(errors.count == 390)
        #expect(logged == [5, 65, 125, 185])
    }

    /// A real listener on loopback: EMFILE stops accepting (autoRead off: off epoll, so no spin however NIO's
    /// read state stands), a second error during the pause schedules nothing more, and after the pause the
    /// listener accepts again. ECONNABORTED is counted but pauses nothing. The check after the pause is a task
    /// scheduled later on the same event loop: ordered by the loop, not by a wall-clock bound.
    @Test func shortagePausesTheListenerThenAcceptingResumes() async throws {
        let group = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        let errors = AcceptErrors()
        let server = try await ServerBootstrap(group: group)
            .guardingAccept(listener: "test", errors: errors, logger: Logger(label: "test"), pause: .milliseconds(20))
            .childChannelInitializer { $0.eventLoop.makeSucceededVoidFuture() }
            .bind(host: "127.0.0.1", port: 0).get()
        let loop = server.eventLoop
        /// Fires accept errors on the loop and reads autoRead right after, in one turn of the loop: the resume
        /// (a task on the same loop) cannot run in between.
        func fire(_ errnos: CInt...) async throws -> Bool {
            try await loop.submit {
                for errno in errnos { server.pipeline.fireErrorCaught(IOError(errnoCode: errno, reason: "accept")) }
                return try server.syncOptions!.getOption(ChannelOptions.autoRead)
            }.get()
        }

        #expect(try await fire(ECONNABORTED), "an aborted connection pauses nothing")
        #expect(try await fire(EMFILE, EMFILE) == false)
        #expect(errors.count == 3)
        // Runs after the 20 ms resume, which the loop scheduled first.
        let resumed = try await loop.scheduleTask(in: .milliseconds(200)) {
            try server.syncOptions!.getOption(ChannelOptions.autoRead)
        }.futureResult.get()
        #expect(resumed)
        let client = try await ClientBootstrap(group: group).connect(to: server.localAddress!).get()
        #expect(client.isActive)
        try await client.close()
        try await server.close()
        try await group.shutdownGracefully()
    }
}

/// Which errors are this process's or host's shortage (a listener pauses; a proxy backend is not blamed, IP-R3)
/// and which are the peer's affair.
@Suite struct ResourceShortageTests {
    @Test func shortagesAreLocalAndPeerErrorsAreNot() {
        for errno in [EMFILE, ENFILE, ENOBUFS, ENOMEM] { #expect(isResourceShortage(errno), "\(errno)") }
        for errno in [ECONNREFUSED, ETIMEDOUT, ECONNABORTED, EHOSTUNREACH, ENETUNREACH, ECONNRESET] {
            #expect(!isResourceShortage(errno), "\(errno)")
        }
    }
}
