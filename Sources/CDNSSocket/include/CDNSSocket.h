// CDNSSocket: the batched UDP calls of the DNS64 listener threads (Sources/DNS64/Transport/UDPListener.swift).
//
// Why this shim exists: recvmmsg(2), sendmmsg(2) and struct mmsghdr are GNU declarations that Swift's Glibc
// module does not import (SwiftNIO carries its own shim for the same reason, but it is not a public module).
// The batch is described by CDNS_datagram, a plain struct, so no GNU type crosses into Swift. Every function
// returns its result or -errno; Swift never reads errno.
#ifndef CDNSSOCKET_H
#define CDNSSOCKET_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/// One datagram of a batch: its bytes, their length and the peer.
typedef struct {
    /// Receive: where the datagram goes (`capacity` bytes). Send: the bytes to send.
    void *base;
    /// Receive: the room at `base`. Send: unused.
    uint32_t capacity;
    /// Receive: the bytes received (at most `capacity`). Send: the bytes to send.
    uint32_t length;
    /// Receive: nonzero when the datagram was longer than `capacity` and was cut.
    uint32_t truncated;
    /// The peer's address length in `peer`.
    uint32_t peer_length;
    /// Receive: the source. Send: the destination.
    struct sockaddr_storage peer;
} CDNS_datagram;

/// The largest batch the functions below take.
#define CDNS_MAX_BATCH 64

/// A blocking, close-on-exec UDP socket bound to `address`, with SO_REUSEPORT when `reuse_port` is nonzero;
/// or -errno. `*failed_call` names the call that failed ("socket", "setsockopt", "bind").
int CDNS_udp_socket(const struct sockaddr *address, uint32_t length, int reuse_port, const char **failed_call);

/// Receives up to `count` (<= CDNS_MAX_BATCH) datagrams: waits for the first, then takes what is queued
/// without waiting (MSG_WAITFORONE). Returns how many, or -errno.
int CDNS_receive(int fd, CDNS_datagram *batch, unsigned count);

/// Sends `count` (<= CDNS_MAX_BATCH) datagrams with as few sendmmsg calls as the kernel allows. A datagram
/// the kernel refuses (e.g. an unreachable peer) is skipped. Returns how many were sent, or -errno when the
/// socket itself failed before any was sent.
int CDNS_send(int fd, const CDNS_datagram *batch, unsigned count);

/// The address the socket is bound to, in `address` (`*length` in: its room, out: its size); 0 or -errno.
int CDNS_local_address(int fd, struct sockaddr_storage *address, uint32_t *length);

/// Stops receiving: wakes a thread blocked in CDNS_receive (it then returns 0 datagrams or zero-length ones).
/// Sending still works until the descriptor is closed.
int CDNS_shutdown_receive(int fd);

#endif
