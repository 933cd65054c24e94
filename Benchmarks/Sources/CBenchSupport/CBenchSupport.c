#include "CBenchSupport.h"

void *bench_malloc(size_t n) { return malloc(n); }
void bench_free(void *p) { free(p); }
