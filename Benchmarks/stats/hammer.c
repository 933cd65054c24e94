/*
 * hammer: N clients asking labyrinthd's stats socket for `stats` as fast as
 * they can (or at a fixed rate each), for a given time.
 *
 *   hammer SOCKET CLIENTS SECONDS [RATE_PER_CLIENT]
 *
 * SIGINT or SIGTERM ends it early (it still prints its line).
 * Prints one line: requests answered, errors, and requests per second.
 * Build: cc -O2 -pthread -o hammer hammer.c
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *path;
static double seconds, rate;
static atomic_long answered, errors;
static atomic_int stop;

static void on_signal(int sig) {
    (void)sig;
    atomic_store(&stop, 1);
}

static double now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int dial(void) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    strncpy(a.sun_path, path, sizeof a.sun_path - 1);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        if (fd >= 0) close(fd);
        return -1;
    }
    return fd;
}

static void *client(void *arg) {
    (void)arg;
    static const char request[] = "{\"command\":\"stats\"}\n";
    char buffer[65536];
    int fd = dial();
    double next = now();
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        if (fd < 0) {
            atomic_fetch_add(&errors, 1);
            usleep(10000);
            fd = dial();
            continue;
        }
        if (rate > 0) {
            next += 1.0 / rate;
            double wait = next - now();
            if (wait > 0) usleep((useconds_t)(wait * 1e6));
        }
        if (send(fd, request, sizeof request - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof request - 1)) {
            close(fd);
            fd = -1;
            continue;
        }
        /* Read one reply line. */
        size_t have = 0;
        for (;;) {
            ssize_t n = recv(fd, buffer + have, sizeof buffer - have, 0);
            if (n <= 0) { close(fd); fd = -1; break; }
            have += (size_t)n;
            if (buffer[have - 1] == '\n') break;
            if (have == sizeof buffer) have = 0;
        }
        if (fd < 0) { atomic_fetch_add(&errors, 1); continue; }
        if (strstr(buffer, "\"ok\":true") != NULL) atomic_fetch_add(&answered, 1);
        else atomic_fetch_add(&errors, 1);
    }
    if (fd >= 0) close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: hammer SOCKET CLIENTS SECONDS [RATE_PER_CLIENT]\n");
        return 64;
    }
    path = argv[1];
    int clients = atoi(argv[2]);
    seconds = atof(argv[3]);
    rate = argc > 4 ? atof(argv[4]) : 0;
    pthread_t *threads = calloc((size_t)clients, sizeof *threads);
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    double start = now();
    for (int i = 0; i < clients; i++) pthread_create(&threads[i], NULL, client, NULL);
    while (now() - start < seconds && !atomic_load(&stop)) usleep(10000);
    atomic_store(&stop, 1);
    for (int i = 0; i < clients; i++) pthread_join(threads[i], NULL);
    double elapsed = now() - start;
    printf("answered %ld errors %ld rate %.0f/s\n", atomic_load(&answered), atomic_load(&errors),
           atomic_load(&answered) / elapsed);
    return 0;
}
