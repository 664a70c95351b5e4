// The DNS wire layer (RFC 1035 §4, RFC 3597, RFC 6891 §6): a pure codec over `[UInt8]`, no sockets, no clocks.
//
// Contract for every file in this folder:
// - Parsing never traps. Every read goes through `DNSReader`, which checks bounds first and throws a
//   `DNSWireError` naming what was wrong. Peer data is never trusted: counts, lengths and compression pointers
//   are all checked against the message before use (rule N5 of docs/dns64.md).
// - A parsed value (`DNSMessage`, `DNSName`, …) is valid by construction; `encoded()` on it cannot fail.
//   Values built in code are checked where a limit applies (`DNSName(labels:)` enforces 63/255).
// - Unknown record types keep their RDATA as opaque bytes (RFC 3597 §5) and are re-emitted byte for byte.
//   Names inside RDATA are parsed (and so decompressed) only for the RFC 1035 types that may be compressed
//   (NS, CNAME, SOA, PTR, MX) plus DNAME, so that rebuilding a message never copies a stale pointer.
// - The ByteBuffer edge is in the transport layer; nothing here imports NIO.
