// libFuzzer target for the DNS64 (rules N5, D1–D11 of docs/dns64.md): hostile bytes from both sides.
// - As a client query: intake never traps, and every reply it builds parses back and echoes the ID.
// - As an upstream answer: when it parses, it is fed (its question set to the one asked, as the N3 matcher
//   would require) to the state machine of a client query for the same name at each step the machine asks
//   upstream; the final reply must parse back. This is where synthesis, CNAME chains, TTL rules and PTR
//   handling meet whatever an upstream (or a spoofer who got through) sends.
// The first byte picks the client question type and the DO/CD bits; the rest is the message.
//
//   bash scripts/fuzz.sh dns64                 # build with libFuzzer + ASan and run (scripts/fuzz.sh -h)
//   .build/debug/fuzz-dns64 FILE...            # without the fuzzer: replay inputs
import DNS64
import FuzzSupport
import NAT64Translator
import NIOCore

let policy = SynthesisPolicy(
    prefixes: [NAT64Prefix("64:ff9b::/96")!, NAT64Prefix("2001:db8:100::/40")!],
    mappedIPv4: nil, synthesizeOnUpstreamErrors: true, breakDNSSEC: false)
let intake = QueryIntake(allowedClients: [.v6(IPv6Prefix("2001:db8:1::/64")!)], policy: policy)

/// Runs one input; returns the number of replies checked.
@inline(never)
func fuzzDNS64(_ data: UnsafeRawBufferPointer) -> Int {
    guard let selector = data.first else { return 0 }
    // Made per input: LeakSanitizer reports a global SocketAddress (its storage box) as leaked at exit.
    let client = try! SocketAddress(ipAddress: "2001:db8:1::2", port: 5353)
    let bytes = Array(data.dropFirst())
    var checked = 0
    // 1. The bytes as a client query.
    switch intake.accept(bytes, from: client) {
    case .reply(let reply):
        checkReply(reply.bytes, id: bytes.count >= 2 ? UInt16(bytes[0]) << 8 | UInt16(bytes[1]) : nil)
        checked += 1
    case .resolve(var machine):
        if case .reply(let reply) = machine.start() { checkReply(reply.bytes, id: machine.query.id) }
        checked += 1
    case .drop:
        break
    }
    // 2. The bytes as an upstream answer to a client query for its first question's name.
    guard let answer = try? DNSMessage(parsing: bytes), let question = answer.questions.first else { return checked }
    let types: [DNSRecordType] = [.aaaa, .ptr, .a, .mx]
    var flags = DNSHeader.Flags(rawValue: 0x0100)  // RD
    flags.checkingDisabled = selector & 0x10 != 0
    let edns = selector & 0x20 != 0 ? [EDNSInfo(udpPayloadSize: 1232, dnssecOK: selector & 0x40 != 0).record] : []
    let query = DNSMessage(
        header: DNSHeader(id: 0x4e34, flags: flags),
        questions: [DNSQuestion(name: question.name, type: types[Int(selector & 0x03)])], additionals: edns)
    guard case .resolve(var machine) = intake.accept(query.encoded(), from: client) else { return checked }
    var action = machine.start()
    for _ in 0..<4 {
        switch action {
        case .reply(let reply):
            checkReply(reply.bytes, id: 0x4e34)
            return checked + 1
        case .askUpstream(let asked):
            var matched = answer
            matched.questions = [asked.question]
            matched.header.flags.isResponse = true
            action = machine.upstreamAnswered(
                selector & 0x08 != 0 ? .failed : .answer(matched, raw: matched.encoded()), now: 0)
        }
    }
    preconditionFailure("the state machine asked upstream more than 3 times")
}

/// Every reply the server builds must parse, be a response, and carry the client's ID.
func checkReply(_ reply: [UInt8], id: UInt16?) {
    guard let message = try? DNSMessage(parsing: reply) else { preconditionFailure("unparseable reply \(reply)") }
    precondition(message.header.flags.isResponse)
    if let id { precondition(message.header.id == id, "reply ID \(message.header.id), query ID \(id)") }
}

#if FUZZING
@_cdecl("LLVMFuzzerTestOneInput")
public func LLVMFuzzerTestOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    precondition(fuzzDNS64(UnsafeRawBufferPointer(start: data, count: size)) >= 0)
    return 0
}
#else
@main
struct ReplayMain {
    static func main() { replay(CommandLine.arguments.dropFirst()) { fuzzDNS64($0) } }
}
#endif
