/* The machine's FMA peak: 12 independent chains of FMAs per thread (enough to cover the
 * FMA latency on both pipes), on 1..N threads, with the widest vectors the CPU has:
 * 512-bit (AVX-512F) where it has them, else 256-bit (AVX2+FMA).
 *
 *   gcc -O2 -mavx2 -mfma -pthread bench/fma_peak.c -o fma_peak && ./fma_peak 1 2
 *
 * Prints "threads GFLOP/s isa" lines: the best of 7 runs of 2e8 FMA instructions per
 * thread (float32: 16 lanes x multiply+add = 32 FLOP each with AVX-512, 16 with AVX2).
 *
 * Built as a shared library (gcc -O2 -mavx2 -mfma -shared -fPIC), fma_gflops(iters) runs
 * the same loop on the calling thread for iters x 12 FMAs and returns its GFLOP/s:
 * bench/run.py times it between GEMM calls, in the same rounds. */
#include <immintrin.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define ITERS 16000000L /* x 12 FMAs */

static double now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static volatile float sink;

/* One thread's FMA loop for vector type V (FN: its intrinsics' prefix, _mm256 or _mm512):
 * 12 chains, each FMA-ing into itself, then their sum into `sink` so none is dropped. */
#define FMA_LOOP(NAME, ATTR, V, FN)                                                                    \
  ATTR static void* NAME(void* arg) {                                                                 \
    const long iters = arg ? *(const long*)arg : ITERS;                                               \
    const V a = FN##_set1_ps(0.999999f), b = FN##_set1_ps(1e-7f);                                     \
    /* distinct starting values, so the compiler cannot merge the chains */                           \
    V c0 = FN##_set1_ps(0.f), c1 = FN##_set1_ps(1.f), c2 = FN##_set1_ps(2.f), c3 = FN##_set1_ps(3.f),  \
      c4 = FN##_set1_ps(4.f), c5 = FN##_set1_ps(5.f), c6 = FN##_set1_ps(6.f), c7 = FN##_set1_ps(7.f),  \
      c8 = FN##_set1_ps(8.f), c9 = FN##_set1_ps(9.f), c10 = FN##_set1_ps(10.f), c11 = FN##_set1_ps(11.f); \
    for (long i = 0; i < iters; ++i) {                                                                \
      c0 = FN##_fmadd_ps(a, c0, b); c1 = FN##_fmadd_ps(a, c1, b); c2 = FN##_fmadd_ps(a, c2, b);       \
      c3 = FN##_fmadd_ps(a, c3, b); c4 = FN##_fmadd_ps(a, c4, b); c5 = FN##_fmadd_ps(a, c5, b);       \
      c6 = FN##_fmadd_ps(a, c6, b); c7 = FN##_fmadd_ps(a, c7, b); c8 = FN##_fmadd_ps(a, c8, b);       \
      c9 = FN##_fmadd_ps(a, c9, b); c10 = FN##_fmadd_ps(a, c10, b); c11 = FN##_fmadd_ps(a, c11, b);   \
    }                                                                                                 \
    V s = FN##_add_ps(FN##_add_ps(FN##_add_ps(c0, c1), FN##_add_ps(c2, c3)),                          \
                      FN##_add_ps(FN##_add_ps(c4, c5), FN##_add_ps(c6, c7)));                         \
    s = FN##_add_ps(s, FN##_add_ps(FN##_add_ps(c8, c9), FN##_add_ps(c10, c11)));                      \
    float out[sizeof(V) / sizeof(float)];                                                             \
    FN##_storeu_ps(out, s);                                                                           \
    sink = out[0];                                                                                    \
    return NULL;                                                                                      \
  }

FMA_LOOP(run256, , __m256, _mm256)
FMA_LOOP(run512, __attribute__((target("avx512f"))), __m512, _mm512)

/* Whether the CPU runs 512-bit FMAs: the index into runs[] and isa_names[]. */
static int wide(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") != 0;
}
static void* (*const runs[2])(void*) = {run256, run512};
static const char* const isa_names[2] = {"avx2", "avx512"};
/* float32 FLOP per FMA instruction: 8 or 16 lanes x multiply+add. */
static const double flops_per_fma[2] = {16.0, 32.0};

double fma_gflops(long iters) {
  const int w = wide();
  double t0 = now();
  runs[w](&iters);
  return iters * 12.0 * flops_per_fma[w] / (now() - t0) / 1e9;
}

int main(int argc, char** argv) {
  const int w = wide();
  for (int arg = 1; arg < (argc > 1 ? argc : 2); ++arg) {
    int threads = argc > 1 ? atoi(argv[arg]) : 1;
    double best = 0;
    for (int rep = 0; rep < 7; ++rep) {
      pthread_t tid[64];
      double t0 = now();
      for (int t = 0; t < threads; ++t) pthread_create(&tid[t], NULL, runs[w], NULL);
      for (int t = 0; t < threads; ++t) pthread_join(tid[t], NULL);
      double gflops = threads * ITERS * 12.0 * flops_per_fma[w] / (now() - t0) / 1e9;
      if (gflops > best) best = gflops;
    }
    printf("%d %.1f %s\n", threads, best, isa_names[w]);
  }
  return 0;
}
