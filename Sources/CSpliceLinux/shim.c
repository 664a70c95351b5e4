// See include/CSpliceLinux.h.
#define _GNU_SOURCE
#include "CSpliceLinux.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

int CSplice_name_thread(const char *name) {
    return prctl(PR_SET_NAME, (unsigned long)name, 0, 0, 0) == 0 ? 0 : -errno;
}

int CSplice_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

static int add(int epfd, int fd, uint64_t data, uint32_t events) {
    struct epoll_event ev = {.events = events, .data.u64 = data};
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int CSplice_epoll_add(int epfd, int fd, uint64_t data) {
    return add(epfd, fd, data, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
}

int CSplice_epoll_add_level(int epfd, int fd, uint64_t data) { return add(epfd, fd, data, EPOLLIN); }

int CSplice_epoll_wait(int epfd, uint64_t *tags, int max, int timeout_ms) {
    struct epoll_event events[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epfd, events, max, timeout_ms);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        uint64_t readable = (events[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) ? 1ULL << 61 : 0;
        tags[i] = events[i].data.u64 | readable;
    }
    return n;
}

int CSplice_eventfd(void) {
    int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

void CSplice_eventfd_signal(int fd) {
    uint64_t one = 1;
    (void)!write(fd, &one, sizeof one);
}

void CSplice_eventfd_drain(int fd) {
    uint64_t value;
    (void)!read(fd, &value, sizeof value);
}

int CSplice_pipe(int fds[2], int size) {
    if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) < 0) return -errno;
    if (size > 0) (void)fcntl(fds[1], F_SETPIPE_SZ, size);
    int capacity = fcntl(fds[1], F_GETPIPE_SZ);
    if (capacity < 0) {
        int e = errno;
        close(fds[0]);
        close(fds[1]);
        return -e;
    }
    return capacity;
}

ssize_t CSplice_move(int in, int out, size_t len) {
    ssize_t n = splice(in, NULL, out, NULL, len, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
    return n < 0 ? -errno : n;
}

int CSplice_shutdown_write(int fd) { return shutdown(fd, SHUT_WR) < 0 ? -errno : 0; }

int CSplice_close(int fd) { return close(fd) < 0 ? -errno : 0; }

/* Fills `ss` from an address in CSplice form: its length, or 0 for an unknown family. */
static socklen_t fill(struct sockaddr_storage *ss, int family, const uint8_t *addr, int port) {
    memset(ss, 0, sizeof *ss);
    if (family == AF_INET) {
        struct sockaddr_in *sin = (struct sockaddr_in *)ss;
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)port);
        memcpy(&sin->sin_addr, addr, 4);
        return sizeof *sin;
    }
    if (family == AF_INET6) {
        struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)port);
        memcpy(&sin6->sin6_addr, addr, 16);
        return sizeof *sin6;
    }
    return 0;
}

/* The reverse of fill: an IPv4 address goes to the first 4 bytes of `addr`. */
static void unfill(const struct sockaddr_storage *ss, uint8_t *addr, int *family, int *port) {
    *family = ss->ss_family;
    if (ss->ss_family == AF_INET) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
        memcpy(addr, &sin->sin_addr, 4);
        *port = ntohs(sin->sin_port);
    } else if (ss->ss_family == AF_INET6) {
        const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
        memcpy(addr, &sin6->sin6_addr, 16);
        *port = ntohs(sin6->sin6_port);
    } else {
        *port = 0;
    }
}

/* A non-blocking, close-on-exec TCP socket for `addr` (filled into `ss`, its length in `len`) with the socket
   option `level`/`name` set to 1, or -errno. */
static int tcp_socket(int family, const uint8_t *addr, int port, int level, int name, struct sockaddr_storage *ss,
                      socklen_t *len) {
    *len = fill(ss, family, addr, port);
    if (*len == 0) return -EAFNOSUPPORT;
    int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
    if (fd < 0) return -errno;
    int one = 1;
    (void)setsockopt(fd, level, name, &one, sizeof one);
    return fd;
}

int CSplice_connect(int family, const uint8_t *addr, int port, int mss, int *pending) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = tcp_socket(family, addr, port, IPPROTO_TCP, TCP_NODELAY, &ss, &len);
    if (fd < 0) return fd;
    if (mss > 0 && setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) < 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    *pending = 0;
    if (connect(fd, (struct sockaddr *)&ss, len) < 0) {
        if (errno != EINPROGRESS) {
            int e = errno;
            close(fd);
            return -e;
        }
        *pending = 1;
    }
    return fd;
}

int CSplice_connect_result(int fd) {
    int err = 0;
    socklen_t elen = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &elen) < 0) return -errno;
    if (err != 0) return -err;
    struct sockaddr_storage peer;
    socklen_t plen = sizeof peer;
    if (getpeername(fd, (struct sockaddr *)&peer, &plen) == 0) return 0;
    return errno == ENOTCONN ? -EINPROGRESS : -errno;
}

ssize_t CSplice_send(int fd, const uint8_t *bytes, size_t len) {
    ssize_t n = send(fd, bytes, len, MSG_NOSIGNAL | MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

int CSplice_listen(int family, const uint8_t *addr, int port, int reuse_port, int backlog) {
    struct sockaddr_storage ss;
    socklen_t len;
    int fd = tcp_socket(family, addr, port, SOL_SOCKET, SO_REUSEADDR, &ss, &len);
    if (fd < 0) return fd;
    int one = 1;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) goto fail;
    if (bind(fd, (struct sockaddr *)&ss, len) < 0) goto fail;
    if (listen(fd, backlog) < 0) goto fail;
    return fd;
fail:;
    int e = errno;
    close(fd);
    return -e;
}

int CSplice_accept(int fd, uint8_t *addr, int *family, int *port) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    int c = accept4(fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (c < 0) return -errno;
    int one = 1;
    (void)setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    unfill(&ss, addr, family, port);
    return c;
}

int CSplice_local_address(int fd, uint8_t *addr, int *family, int *port) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0) return -errno;
    unfill(&ss, addr, family, port);
    return 0;
}

ssize_t CSplice_recv(int fd, uint8_t *bytes, size_t len) {
    ssize_t n = recv(fd, bytes, len, MSG_DONTWAIT);
    return n < 0 ? -errno : n;
}

int CSplice_epoll_input(int epfd, int fd, uint64_t data, int on) {
    struct epoll_event ev = {.events = on ? EPOLLIN : 0, .data.u64 = data};
    return epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) < 0 ? -errno : 0;
}

// The kernel's struct tcp_info goes on past glibc's copy of it; these are the fields after tcpi_total_retrans
// (Linux 4.1 and later), at the offsets the kernel writes them.
struct tcp_info_more {
    struct tcp_info base;
    uint64_t pacing_rate, max_pacing_rate, bytes_acked, bytes_received;
};

static int tcp_info_more(int fd, struct tcp_info_more *info) {
    socklen_t len = sizeof *info;
    memset(info, 0, sizeof *info);
    if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len) < 0) return -errno;
    return len >= sizeof *info ? 0 : -EOPNOTSUPP;
}

// One queue's sequence number, in repair mode (switched on and off around the read, with no window probe).
// While TCP_SEND_QUEUE is selected (three calls), a transmission the stack makes from softirq on this socket
// (an ACK that opens the window) is recorded as sent without leaving: the segment then goes out again as a
// retransmission once the peer's SACK or the timer asks for it. Rare, and never a lost byte.
static int queue_seq(int fd, int queue, uint32_t *seq) {
    int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP;
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) < 0) return -errno;
    int r = 0;
    socklen_t len = sizeof *seq;
    if (setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof queue) < 0 ||
        getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, seq, &len) < 0)
        r = -errno;
    int none = TCP_NO_QUEUE;
    setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &none, sizeof none);
    setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof off);
    return r;
}

int CSplice_tcp_progress(int fd, uint64_t *bytes_acked, uint64_t *bytes_received) {
    struct tcp_info_more info;
    int r = tcp_info_more(fd, &info);
    if (r != 0) return r;
    *bytes_acked = info.bytes_acked;
    // After the peer's FIN (these states), rcv_nxt, and so bytes_received, counts it as one more.
    int fin = info.base.tcpi_state == TCP_CLOSE_WAIT || info.base.tcpi_state == TCP_LAST_ACK ||
              info.base.tcpi_state == TCP_CLOSING || info.base.tcpi_state == TCP_TIME_WAIT;
    *bytes_received = info.bytes_received - (fin && info.bytes_received > 0 ? 1 : 0);
    return 0;
}

int CSplice_tcp_state(int fd, CSplice_tcp_snapshot *s) {
    memset(s, 0, sizeof *s);
    struct tcp_info_more info;
    int r = queue_seq(fd, TCP_SEND_QUEUE, &s->write_seq);
    if (r != 0) return r;
    // rcv_nxt and bytes_received move together when a segment arrives: read until rcv_nxt is the same on
    // both sides of TCP_INFO.
    for (int tries = 0;; tries++) {
        uint32_t before, after;
        if ((r = queue_seq(fd, TCP_RECV_QUEUE, &before)) != 0) return r;
        if ((r = tcp_info_more(fd, &info)) != 0) return r;
        if ((r = queue_seq(fd, TCP_RECV_QUEUE, &after)) != 0) return r;
        if (before == after) {
            s->rcv_nxt = after;
            break;
        }
        if (tries == 16) return -EAGAIN;
    }
    s->bytes_received = info.bytes_received;
    s->bytes_acked = info.bytes_acked;
    s->snd_wscale = info.base.tcpi_snd_wscale;
    s->rcv_wscale = info.base.tcpi_rcv_wscale;
    s->options = info.base.tcpi_options;
    s->state = info.base.tcpi_state;
    uint32_t tsval = 0;
    socklen_t len = sizeof tsval;
    struct timespec now;
    if (getsockopt(fd, IPPROTO_TCP, TCP_TIMESTAMP, &tsval, &len) < 0) return -errno;
    clock_gettime(CLOCK_MONOTONIC, &now);
    s->tsval = tsval;
    s->monotonic_ms = (uint32_t)((uint64_t)now.tv_sec * 1000 + (uint64_t)now.tv_nsec / 1000000);
    return 0;
}

int CSplice_close_silently(int fd) {
    int on = TCP_REPAIR_ON;
    int r = setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof on) < 0 ? -errno : 0;
    close(fd);
    return r;
}

int CSplice_set_mss(int fd, int mss) {
    return setsockopt(fd, IPPROTO_TCP, TCP_MAXSEG, &mss, sizeof mss) < 0 ? -errno : 0;
}

int CSplice_tcp_send_mss(int fd) {
    struct tcp_info_more info;
    int r = tcp_info_more(fd, &info);
    return r != 0 ? r : (int)info.base.tcpi_snd_mss;
}
