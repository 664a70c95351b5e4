// Starts the abuse-trail writer (mapping log and IPFIX) and hooks it to the state table, when either is on.
import GatewayConfig
import Logging
import NAT64Translator

enum AbuseSetup {
    /// The writer, hooked to `table`; nil when `[mapping-log]` and `[ipfix]` are both off.
    static func start(_ configuration: GatewayConfiguration, table: BindingTable, logger: Logger) throws -> MappingLogWriter? {
        let log = configuration.mappingLog
        let ipfix = configuration.ipfix
        guard log.enabled || ipfix.enabled else { return nil }
        let exporter = ipfix.enabled ? IPFIXExporter(settings: ipfix, destination: log.destination) : nil
        let writer = try MappingLogWriter(settings: log, exporter: exporter, logger: logger)
        table.onMappingEvent = MappingLogWriter.hook(
            ring: writer.events, detail: log.detail, blocks: configuration.translator.portBlocks.size > 0,
            ipfix: ipfix.enabled)
        logger.notice("mapping log on", metadata: [
            "path": "\(log.enabled ? log.path : "off")", "detail": "\(log.detail.rawValue)",
            "ipfix-collectors": "\(ipfix.enabled ? ipfix.collectors.count : 0)",
            "port-block-size": "\(configuration.translator.portBlocks.size)"])
        return writer
    }
}
