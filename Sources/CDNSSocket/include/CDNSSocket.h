// CDNSSocket: the batched UDP calls of the DNS64 listener threads (Sources/DNS64/Transport/UDPListener.swift)
// and the epoll and upstream sockets those threads resolve with (Sources/DNS64/Transport/UpstreamLane.swift).
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

/// Receives up to `count` (<= CDNS_MAX_BATCH) datagrams that are already queued, without waiting (the caller
/// waits in epoll). Returns how many, -EAGAIN when none is queued, or -errno.
int CDNS_receive_now(int fd, CDNS_datagram *batch, unsigned count);

/// Sends `count` (<= CDNS_MAX_BATCH) datagrams with as few sendmmsg calls as the kernel allows. A datagram
/// the kernel refuses (e.g. an unreachable peer) is skipped. Returns how many were sent, or -errno when the
/// socket itself failed before any was sent.
int CDNS_send(int fd, const CDNS_datagram *batch, unsigned count);

/// The address the socket is bound to, in `address` (`*length` in: its room, out: its size); 0 or -errno.
int CDNS_local_address(int fd, struct sockaddr_storage *address, uint32_t *length);

/// A non-blocking, close-on-exec UDP socket connected to `upstream` from a kernel-chosen random ephemeral port
/// (RFC 5452 §10); or -errno. `*failed_call` names the call that failed ("socket", "connect").
int CDNS_upstream_socket(const struct sockaddr *upstream, uint32_t length, const char **failed_call);

/// Sends one datagram on a connected socket without waiting; the bytes sent or -errno (a pending ICMP error
/// of an earlier datagram shows here as -ECONNREFUSED).
long CDNS_send_one(int fd, const void *bytes, size_t length);

/// Reads and clears the socket's pending error (SO_ERROR): 0 or the errno value.
int CDNS_take_error(int fd);

/// An epoll instance (close-on-exec), or -errno.
int CDNS_epoll_create(void);

/// Watches `fd` for input (level-triggered, EPOLLIN); each event carries `tag`. 0 or -errno.
int CDNS_epoll_add(int epoll, int fd, uint64_t tag);

/// Waits up to `timeout_ms` (-1: no limit) for events; fills up to `max` tags and event masks. Returns how
/// many, 0 on timeout or interruption, or -errno.
int CDNS_epoll_wait(int epoll, uint64_t *tags, uint32_t *events, int max, int timeout_ms);

/// Fills `length` bytes with random bytes from the kernel (getrandom); 0 or -errno.
int CDNS_random(void *bytes, size_t length);

/// Stops receiving: the socket turns readable in epoll, and a receive returns 0 datagrams or zero-length ones.
/// Sending still works until the descriptor is closed.
int CDNS_shutdown_receive(int fd);

#endif
