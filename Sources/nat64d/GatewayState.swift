// What a reload swaps under the running daemon and the control commands and metrics read each time: the
// DNS64 server (replaced when its settings change), the `[capture]` defaults of `ctl capture start`, and the
// configuration that runs (the file as last reloaded, with the keys that wait for a restart at their running
// value).
import DNS64
import FastPath
import GatewayConfig
import PacketCapture
import Synchronization

final class GatewayState: Sendable {
    private struct Parts: Sendable {
        var dns: DNS64Server?
        var captureDefaults: CaptureSettings
        var configuration: GatewayConfiguration?
        var controlCounters: ControlServerCounters?
        var metricsCounters: MetricsServerCounters?
        var journal: PoolJournalWriter?
        var fastPath: FastPath?
    }

    private let parts: Mutex<Parts>

    init(dns: DNS64Server?, captureDefaults: CaptureSettings, configuration: GatewayConfiguration? = nil) {
        parts = Mutex(Parts(dns: dns, captureDefaults: captureDefaults, configuration: configuration))
    }

    private func read<T: Sendable>(_ field: KeyPath<Parts, T> & Sendable) -> T { parts.withLock { $0[keyPath: field] } }

    private func write<T: Sendable>(_ field: WritableKeyPath<Parts, T> & Sendable, _ value: T) {
        parts.withLock { $0[keyPath: field] = value }
    }

    /// The DNS64 server answering now, if any.
    var dns: DNS64Server? {
        get { read(\.dns) }
        set { write(\.dns, newValue) }
    }

    /// What `ctl capture start` options override.
    var captureDefaults: CaptureSettings {
        get { read(\.captureDefaults) }
        set { write(\.captureDefaults, newValue) }
    }

    /// The control and metrics servers' own counters, for `ctl stats` and /metrics alike (StatsSamples.swift).
    var controlCounters: ControlServerCounters? {
        get { read(\.controlCounters) }
        set { write(\.controlCounters, newValue) }
    }

    var metricsCounters: MetricsServerCounters? {
        get { read(\.metricsCounters) }
        set { write(\.metricsCounters, newValue) }
    }

    /// The pool-assignment journal's writer (mode pool with a state-dir), for its write failures.
    var journal: PoolJournalWriter? {
        get { read(\.journal) }
        set { write(\.journal, newValue) }
    }

    /// The in-kernel fast path ([fast-path]), when it runs.
    var fastPath: FastPath? {
        get { read(\.fastPath) }
        set { write(\.fastPath, newValue) }
    }

    /// The configuration that runs.
    var configuration: GatewayConfiguration? {
        get { read(\.configuration) }
        set { write(\.configuration, newValue) }
    }
}
