// A minimal TCP relay for scripts/bench-proxy.sh: the reference for "how fast could bytes move" when
// measuring the inbound proxy's NIO relay. Two threads per connection, blocking sockets; each direction moves
// bytes with splice(2) through a pipe (socket -> pipe -> socket, no copy to user space). Not part of nat64d;
// built by the benchmark script.
//
//   splice_relay LISTEN_ADDR LISTEN_PORT BACKEND_ADDR BACKEND_PORT
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static struct sockaddr_storage backend;
static socklen_t backend_len;

struct pump { int from, to; };

static int parse(const char *addr, int port, struct sockaddr_storage *ss, socklen_t *len) {
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *a4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET; a4->sin_port = htons(port); *len = sizeof *a4; return AF_INET;
    }
    if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6; a6->sin6_port = htons(port); *len = sizeof *a6; return AF_INET6;
    }
    return -1;
}

static void *pump(void *arg) {
    struct pump p = *(struct pump *)arg;
    free(arg);
    {
        int pipefd[2];
        if (pipe2(pipefd, O_CLOEXEC) != 0) return NULL;
        fcntl(pipefd[1], F_SETPIPE_SZ, 1 << 20);
        for (;;) {
            ssize_t n = splice(p.from, NULL, pipefd[1], NULL, 1 << 20, SPLICE_F_MOVE | SPLICE_F_MORE);
            if (n <= 0) break;
            while (n > 0) {
                ssize_t w = splice(pipefd[0], NULL, p.to, NULL, n, SPLICE_F_MOVE | SPLICE_F_MORE);
                if (w <= 0) goto spliced;
                n -= w;
            }
        }
    spliced:
        close(pipefd[0]);
        close(pipefd[1]);
    }
    shutdown(p.to, SHUT_WR);
    return NULL;
}

static void *connection(void *arg) {
    int client = (int)(long)arg;
    int server = socket(backend.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (server < 0 || connect(server, (struct sockaddr *)&backend, backend_len) != 0) {
        close(client);
        if (server >= 0) close(server);
        return NULL;
    }
    setsockopt(server, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    setsockopt(client, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    pthread_t t1, t2;
    struct pump *a = malloc(sizeof *a), *b = malloc(sizeof *b);
    *a = (struct pump){client, server};
    *b = (struct pump){server, client};
    pthread_create(&t1, NULL, pump, a);
    pthread_create(&t2, NULL, pump, b);
    pthread_join(t1, NULL);
    pthread_join(t2, NULL);
    close(client);
    close(server);
    return NULL;
}

int main(int argc, char **argv) {
    int i = 1;
    if (argc - i != 4) {
        fprintf(stderr, "usage: %s LISTEN_ADDR LISTEN_PORT BACKEND_ADDR BACKEND_PORT\n", argv[0]);
        return 2;
    }
    struct sockaddr_storage listen_addr;
    socklen_t listen_len;
    int family = parse(argv[i], atoi(argv[i + 1]), &listen_addr, &listen_len);
    if (family < 0 || parse(argv[i + 2], atoi(argv[i + 3]), &backend, &backend_len) < 0) {
        fprintf(stderr, "bad address\n");
        return 2;
    }
    int l = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0), one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (bind(l, (struct sockaddr *)&listen_addr, listen_len) != 0 || listen(l, 1024) != 0) {
        perror("bind/listen");
        return 1;
    }
    for (;;) {
        int c = accept4(l, NULL, NULL, SOCK_CLOEXEC);
        if (c < 0) { if (errno == EINTR) continue; perror("accept"); return 1; }
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&t, &attr, connection, (void *)(long)c) != 0) close(c);
        pthread_attr_destroy(&attr);
    }
}
