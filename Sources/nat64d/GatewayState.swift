// What a reload swaps under the running daemon and the control commands and metrics read each time: the
// DNS64 server (replaced when its settings change), the `[capture]` defaults of `ctl capture start`, and the
// configuration that runs (the file as last reloaded, with the keys that wait for a restart at their running
// value).
import DNS64
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
    }

    private let parts: Mutex<Parts>

    init(dns: DNS64Server?, captureDefaults: CaptureSettings, configuration: GatewayConfiguration? = nil) {
        parts = Mutex(Parts(dns: dns, captureDefaults: captureDefaults, configuration: configuration))
    }

    /// The DNS64 server answering now, if any.
    var dns: DNS64Server? {
        get { parts.withLock { $0.dns } }
        set { parts.withLock { $0.dns = newValue } }
    }

    /// What `ctl capture start` options override.
    var captureDefaults: CaptureSettings {
        get { parts.withLock { $0.captureDefaults } }
        set { parts.withLock { $0.captureDefaults = newValue } }
    }

    /// The control and metrics servers' own counters, for `ctl stats` and /metrics alike (StatsSamples.swift).
    var controlCounters: ControlServerCounters? {
        get { parts.withLock { $0.controlCounters } }
        set { parts.withLock { $0.controlCounters = newValue } }
    }

    var metricsCounters: MetricsServerCounters? {
        get { parts.withLock { $0.metricsCounters } }
        set { parts.withLock { $0.metricsCounters = newValue } }
    }

    /// The pool-assignment journal's writer (mode pool with a state-dir), for its write failures.
    var journal: PoolJournalWriter? {
        get { parts.withLock { $0.journal } }
        set { parts.withLock { $0.journal = newValue } }
    }

    /// The configuration that runs.
    var configuration: GatewayConfiguration? {
        get { parts.withLock { $0.configuration } }
        set { parts.withLock { $0.configuration = newValue } }
    }
}
