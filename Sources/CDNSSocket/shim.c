// See include/CDNSSocket.h.
#define _GNU_SOURCE
#include "CDNSSocket.h"

#include <errno.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

int CDNS_udp_socket(const struct sockaddr *address, uint32_t length, int reuse_port, const char **failed_call) {
    int fd = socket(address->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *failed_call = "socket";
        return -errno;
    }
    int one = 1;
    if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0) {
        int e = errno;
        close(fd);
        *failed_call = "setsockopt";
        return -e;
    }
    if (bind(fd, address, length) < 0) {
        int e = errno;
        close(fd);
        *failed_call = "bind";
        return -e;
    }
    return fd;
}

// One message header and one vector per datagram: for a receive, the whole room and the peer's full storage;
// for a send, the bytes to send and the peer's length.
static void describe(struct mmsghdr *headers, struct iovec *vectors, CDNS_datagram *batch, unsigned count,
                     int receiving) {
    for (unsigned i = 0; i < count; i++) {
        vectors[i].iov_base = batch[i].base;
        vectors[i].iov_len = receiving ? batch[i].capacity : batch[i].length;
        memset(&headers[i], 0, sizeof headers[i]);
        headers[i].msg_hdr.msg_iov = &vectors[i];
        headers[i].msg_hdr.msg_iovlen = 1;
        headers[i].msg_hdr.msg_name = &batch[i].peer;
        headers[i].msg_hdr.msg_namelen = receiving ? sizeof batch[i].peer : batch[i].peer_length;
    }
}

int CDNS_receive_now(int fd, CDNS_datagram *batch, unsigned count) {
    if (count > CDNS_MAX_BATCH) count = CDNS_MAX_BATCH;
    struct mmsghdr headers[CDNS_MAX_BATCH];
    struct iovec vectors[CDNS_MAX_BATCH];
    describe(headers, vectors, batch, count, 1);
    int n;
    do {
        n = recvmmsg(fd, headers, count, MSG_DONTWAIT, NULL);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return -errno;
    for (int i = 0; i < n; i++) {
        batch[i].length = headers[i].msg_len;
        batch[i].truncated = (headers[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        batch[i].peer_length = headers[i].msg_hdr.msg_namelen;
    }
    return n;
}

int CDNS_send(int fd, const CDNS_datagram *batch, unsigned count) {
    if (count > CDNS_MAX_BATCH) count = CDNS_MAX_BATCH;
    struct mmsghdr headers[CDNS_MAX_BATCH];
    struct iovec vectors[CDNS_MAX_BATCH];
    describe(headers, vectors, (CDNS_datagram *)batch, count, 0);
    unsigned done = 0;
    int sent = 0;
    while (done < count) {
        int n = sendmmsg(fd, headers + done, count - done, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            // sendmmsg reports an error only when the first datagram fails: skip that one, go on with the rest.
            if (errno == EBADF || errno == ENOTSOCK || errno == EINVAL) return sent ? sent : -errno;
            done += 1;
            continue;
        }
        done += (unsigned)n;
        sent += n;
    }
    return sent;
}

int CDNS_local_address(int fd, struct sockaddr_storage *address, uint32_t *length) {
    socklen_t room = *length;
    if (getsockname(fd, (struct sockaddr *)address, &room) < 0) return -errno;
    *length = room;
    return 0;
}

int CDNS_shutdown_receive(int fd) {
    // On an unconnected UDP socket Linux reports ENOTCONN but still marks the socket shut and wakes readers.
    if (shutdown(fd, SHUT_RD) < 0 && errno != ENOTCONN) return -errno;
    return 0;
}

int CDNS_upstream_socket(const struct sockaddr *upstream, uint32_t length, const char **failed_call) {
    int fd = socket(upstream->sa_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        *failed_call = "socket";
        return -errno;
    }
    // No bind: connect picks the source address by route and a random ephemeral port.
    if (connect(fd, upstream, length) < 0) {
        int e = errno;
        close(fd);
        *failed_call = "connect";
        return -e;
    }
    return fd;
}

long CDNS_send_one(int fd, const void *bytes, size_t length) {
    ssize_t n;
    do {
        n = send(fd, bytes, length, MSG_DONTWAIT);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

int CDNS_take_error(int fd) {
    int error = 0;
    socklen_t length = sizeof error;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) < 0) return errno;
    return error;
}

int CDNS_epoll_create(void) {
    int fd = epoll_create1(EPOLL_CLOEXEC);
    return fd < 0 ? -errno : fd;
}

int CDNS_epoll_add(int epoll, int fd, uint64_t tag) {
    struct epoll_event event = {.events = EPOLLIN, .data.u64 = tag};
    return epoll_ctl(epoll, EPOLL_CTL_ADD, fd, &event) < 0 ? -errno : 0;
}

int CDNS_epoll_wait(int epoll, uint64_t *tags, uint32_t *events, int max, int timeout_ms) {
    struct epoll_event ready[64];
    if (max > 64) max = 64;
    int n = epoll_wait(epoll, ready, max, timeout_ms);
    if (n < 0) return errno == EINTR ? 0 : -errno;
    for (int i = 0; i < n; i++) {
        tags[i] = ready[i].data.u64;
        events[i] = ready[i].events;
    }
    return n;
}

int CDNS_random(void *bytes, size_t length) {
    unsigned char *at = bytes;
    while (length > 0) {
        ssize_t n = getrandom(at, length, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -errno;
        }
        at += n;
        length -= (size_t)n;
    }
    return 0;
}
