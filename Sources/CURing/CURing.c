#include "CURing.h"

#include <string.h>
#include <unistd.h>

int curing_pin_current_thread(const int32_t *cpus, int32_t count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int32_t i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

int32_t curing_current_affinity(int32_t *out, int32_t cap) {
    cpu_set_t set;
    CPU_ZERO(&set);
    int r = pthread_getaffinity_np(pthread_self(), sizeof(set), &set);
    if (r != 0) return -r;
    int32_t n = 0;
    for (int cpu = 0; cpu < CPU_SETSIZE && n < cap; cpu++) {
        if (CPU_ISSET(cpu, &set)) out[n++] = cpu;
    }
    return n;
}

int curing_set_thread_affinity(int32_t tid, const int32_t *cpus, int32_t count) {
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int32_t i = 0; i < count; i++) {
        if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) return EINVAL;
        CPU_SET(cpus[i], &set);
    }
    return sched_setaffinity((pid_t)tid, sizeof(set), &set) == 0 ? 0 : errno;
}

int curing_set_current_thread_name(const char *name) {
    char buf[16];
    strncpy(buf, name, sizeof(buf) - 1);
    buf[sizeof(buf) - 1] = 0;
    return pthread_setname_np(pthread_self(), buf);
}

int curing_set_fifo_priority(int32_t priority) {
    struct sched_param p;
    memset(&p, 0, sizeof(p));
    p.sched_priority = priority;
    return pthread_setschedparam(pthread_self(), SCHED_FIFO, &p);
}

int32_t curing_current_cpu(void) { return sched_getcpu(); }

int curing_thread_create(pthread_t *thread, const int32_t *cpus, int32_t count,
                         int32_t fifo_priority, const char *name,
                         void *(*body)(void *), void *arg) {
    pthread_attr_t attr;
    int r = pthread_attr_init(&attr);
    if (r != 0) return r;
    if (count > 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        for (int32_t i = 0; i < count; i++) {
            if (cpus[i] < 0 || cpus[i] >= CPU_SETSIZE) { pthread_attr_destroy(&attr); return EINVAL; }
            CPU_SET(cpus[i], &set);
        }
        r = pthread_attr_setaffinity_np(&attr, sizeof(set), &set);
        if (r != 0) { pthread_attr_destroy(&attr); return r; }
    }
    if (fifo_priority > 0) {
        struct sched_param p;
        memset(&p, 0, sizeof(p));
        p.sched_priority = fifo_priority;
        if ((r = pthread_attr_setinheritsched(&attr, PTHREAD_EXPLICIT_SCHED)) != 0 ||
            (r = pthread_attr_setschedpolicy(&attr, SCHED_FIFO)) != 0 ||
            (r = pthread_attr_setschedparam(&attr, &p)) != 0) {
            pthread_attr_destroy(&attr);
            return r;
        }
    }
    r = pthread_create(thread, &attr, body, arg);
    pthread_attr_destroy(&attr);
    if (r != 0) return r;
    if (name != NULL) {
        char buf[16];
        strncpy(buf, name, sizeof(buf) - 1);
        buf[sizeof(buf) - 1] = 0;
        pthread_setname_np(*thread, buf);
    }
    return 0;
}

int32_t curing_online_cpus(void) { return (int32_t)sysconf(_SC_NPROCESSORS_ONLN); }
