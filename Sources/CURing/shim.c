// CURing: the few io_uring calls the TUN device needs, over liburing (Debian liburing-dev).
//
// Why a C file and not a header-only system module: most of liburing's API is static inline functions on the
// shared rings with C11 atomics, and liburing.h defines _GNU_SOURCE and _XOPEN_SOURCE before including the
// C library's headers. Imported into Swift as a module, those headers would define structures such as fd_set
// differently from every other C module of the package (clang refuses the mix). Here liburing stays inside
// this file; Swift sees only include/curing.h, which needs no system header beyond stdint.
#include <liburing.h>  // first: it sets the feature macros the C library headers need for it

#include "curing.h"
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/uio.h>

/// A ring of `entries` submission slots, or NULL with errno set. Tries IORING_SETUP_SINGLE_ISSUER |
/// IORING_SETUP_DEFER_TASKRUN first (Linux 6.1: completions are posted when this thread asks, with no
/// interrupting task work), then plain flags. The thread that creates the ring must be the one that submits.
struct io_uring *CURing_create(unsigned entries) {
    struct io_uring *ring = calloc(1, sizeof(*ring));
    if (!ring) { errno = ENOMEM; return NULL; }
    int r = io_uring_queue_init(entries, ring, IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN);
    if (r < 0) r = io_uring_queue_init(entries, ring, 0);
    if (r < 0) { free(ring); errno = -r; return NULL; }
    return ring;
}

void CURing_destroy(struct io_uring *ring) {
    io_uring_queue_exit(ring);
    free(ring);
}

/// Queues a read of up to `len` bytes into `buf` that never waits: with nothing to read it completes at once
/// with -EAGAIN (RWF_NOWAIT; io_uring does not go by O_NONBLOCK on pollable files, it would keep the read in
/// flight until a packet comes). `drain`: start only after every earlier request completed
/// (IOSQE_IO_DRAIN). Returns 0, or -1 when the submission queue is full.
int CURing_prepRead(struct io_uring *ring, int fd, void *buf, unsigned len, uint64_t userData,
                                  int drain) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) return -1;
    io_uring_prep_read(sqe, fd, buf, len, (uint64_t)-1);
    sqe->rw_flags = RWF_NOWAIT;
    if (drain) sqe->flags |= IOSQE_IO_DRAIN;
    io_uring_sqe_set_data64(sqe, userData);
    return 0;
}

/// Queues a vectored write of `count` iovecs (which must stay valid until it completes). 0, or -1 when full.
int CURing_prepWritev(struct io_uring *ring, int fd, const void *iov, unsigned count,
                                    uint64_t userData) {
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    if (!sqe) return -1;
    io_uring_prep_writev(sqe, fd, iov, count, (uint64_t)-1);
    io_uring_sqe_set_data64(sqe, userData);
    return 0;
}

/// Submits what is queued and waits until `waitNr` completions are ready: one io_uring_enter.
/// Returns the number submitted or -errno.
int CURing_submitAndWait(struct io_uring *ring, unsigned waitNr) {
    return io_uring_submit_and_wait(ring, waitNr);
}

/// Copies up to `max` ready completions (user data and result) and marks them seen. Returns how many.
unsigned CURing_reap(struct io_uring *ring, uint64_t *userData, int32_t *results, unsigned max) {
    struct io_uring_cqe *cqes[64];
    unsigned total = 0;
    while (total < max) {
        unsigned want = max - total < 64 ? max - total : 64;
        unsigned n = io_uring_peek_batch_cqe(ring, cqes, want);
        if (n == 0) break;
        for (unsigned i = 0; i < n; i++) {
            userData[total + i] = io_uring_cqe_get_data64(cqes[i]);
            results[total + i] = cqes[i]->res;
        }
        io_uring_cq_advance(ring, n);
        total += n;
    }
    return total;
}

