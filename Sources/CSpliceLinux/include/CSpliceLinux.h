// CSpliceLinux: the Linux calls the inbound proxy's splice relay needs (SpliceRelay.swift).
//
// Why this shim exists: splice(2), pipe2(2), F_SETPIPE_SZ, epoll and eventfd are GNU/Linux declarations that
// Swift's Glibc module does not import, and struct epoll_event is packed on x86_64. Each call is wrapped in a
// small function prefixed CSplice_ that returns the result or -errno (never reads errno from Swift).
#ifndef CSPLICELINUX_H
#define CSPLICELINUX_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/// An epoll instance (close-on-exec), or -errno.
/// Names the calling thread (the kernel keeps 15 bytes) for top -H, ps -L and perf; 0 or -errno.
int CSplice_name_thread(const char *name);

int CSplice_epoll_create(void);
/// Adds `fd` edge-triggered for input, output, peer half-close and errors, with `data` as its tag.
int CSplice_epoll_add(int epfd, int fd, uint64_t data);
/// Adds `fd` level-triggered for input (the wake-up eventfd).
int CSplice_epoll_add_level(int epfd, int fd, uint64_t data);
/// Waits up to `timeout_ms` for at most `max` (<= 64) events; fills `tags`, each with bit 61 set when its events
/// include input, the peer's half-close, a hang-up or an error (so tags must keep bit 61 clear). Returns the
/// count or -errno.
int CSplice_epoll_wait(int epfd, uint64_t *tags, int max, int timeout_ms);

/// A non-blocking eventfd, or -errno.
int CSplice_eventfd(void);
/// Wakes the thread waiting on `fd`.
void CSplice_eventfd_signal(int fd);
/// Clears `fd`'s counter.
void CSplice_eventfd_drain(int fd);

/// A non-blocking pipe whose capacity is set to `size` bytes when the kernel allows it: fills `fds` (read end,
/// write end) and returns the capacity in force, or -errno.
int CSplice_pipe(int fds[2], int size);
/// Moves up to `len` bytes from `in` to `out` (one of them a pipe) without blocking: bytes moved, 0 at end of
/// input, or -errno (-EAGAIN: nothing can move now).
ssize_t CSplice_move(int in, int out, size_t len);
/// shutdown(fd, SHUT_WR): 0 or -errno.
int CSplice_shutdown_write(int fd);
/// close(fd): 0 or -errno.
int CSplice_close(int fd);

/// A non-blocking, close-on-exec TCP socket (TCP_NODELAY) connecting to `addr` (4 bytes when `family` is
/// AF_INET, 16 for AF_INET6, network order) port `port`, announcing at most `mss` (TCP_MAXSEG; 0: the route's):
/// the descriptor, or -errno when the socket could not be made or the connect failed at once. `*pending` is 1
/// while the connect is under way (EINPROGRESS), 0 when it completed at once.
int CSplice_connect(int family, const uint8_t *addr, int port, int mss, int *pending);
/// The MSS a connected socket sends with (TCP_INFO's snd_mss: the peer's announced MSS within the path MTU),
/// or -errno.
int CSplice_tcp_send_mss(int fd);
/// How a non-blocking connect on `fd` went: 0 connected, -EINPROGRESS still under way, or -errno (the
/// socket's pending error, e.g. -ECONNREFUSED).
int CSplice_connect_result(int fd);
/// send(2) without blocking and without SIGPIPE: bytes written or -errno.
ssize_t CSplice_send(int fd, const uint8_t *bytes, size_t len);

/// A non-blocking, close-on-exec TCP listening socket bound to `addr` (as for CSplice_connect; port 0: the
/// kernel picks), with SO_REUSEADDR and, when `reuse_port` is 1, SO_REUSEPORT:
/// the descriptor, or -errno.
int CSplice_listen(int family, const uint8_t *addr, int port, int reuse_port, int backlog);
/// accept4(2) without blocking (close-on-exec, non-blocking, TCP_NODELAY set): the descriptor, or -errno; the
/// peer's address goes to `addr` (16 bytes room), its family to `*family`, its port to `*port`.
int CSplice_accept(int fd, uint8_t *addr, int *family, int *port);
/// getsockname(2) of `fd` in the same form as CSplice_accept: 0 or -errno.
int CSplice_local_address(int fd, uint8_t *addr, int *family, int *port);
/// recv(2) without blocking: bytes read, 0 at end of input, or -errno.
ssize_t CSplice_recv(int fd, uint8_t *bytes, size_t len);
/// Turns input events of a level-triggered `fd` (added with CSplice_epoll_add_level) on or off.
int CSplice_epoll_input(int epfd, int fd, uint64_t data, int on);

/// What the offload to the kernel needs to know of one TCP connection (CSplice_tcp_state).
typedef struct {
    uint32_t write_seq;       // the sequence number after the last byte written (repair-mode TCP_QUEUE_SEQ)
    uint32_t rcv_nxt;         // the sequence number the connection expects next
    uint64_t bytes_received;  // in order received bytes (rcv_nxt - irs - 1, from TCP_INFO in the same instant)
    uint64_t bytes_acked;     // bytes the peer acknowledged (snd_una - iss - 1)
    uint32_t tsval;           // the connection's TSval now (TCP_TIMESTAMP)
    uint32_t monotonic_ms;    // CLOCK_MONOTONIC in ms, read beside tsval (the kernel's TCP clock)
    uint8_t snd_wscale;       // the peer's window scale
    uint8_t rcv_wscale;       // this side's window scale
    uint8_t options;          // TCPI_OPT_* (1 timestamps, 2 SACK, 4 window scaling, 8 ECN)
    uint8_t state;            // TCP_ESTABLISHED is 1
} CSplice_tcp_snapshot;

/// Fills `s` for `fd` (needs CAP_NET_ADMIN for the repair-mode sequence numbers): 0 or -errno.
int CSplice_tcp_state(int fd, CSplice_tcp_snapshot *s);
/// TCP_INFO's bytes_acked and bytes_received (without the FIN, which counts there as a byte): 0 or -errno.
int CSplice_tcp_progress(int fd, uint64_t *bytes_acked, uint64_t *bytes_received);
/// Closes `fd` without a FIN or a reset reaching the peer (TCP_REPAIR first): the connection goes on
/// elsewhere. 0 or -errno (then it was closed the ordinary way).
int CSplice_close_silently(int fd);
/// TCP_MAXSEG on `fd` (a listening socket: the MSS its connections announce): 0 or -errno.
int CSplice_set_mss(int fd, int mss);

#endif
