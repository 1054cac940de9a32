/* Native reference for bench/sais.js: CPU time of libdivsufsort's
 * divsufsort() on one input file, printed as "MB/s <value>" (median of
 * RUNS runs, MB = 2^20 bytes). Optional: bench/sais.js builds and runs it
 * only when gcc and libdivsufsort-dev (Debian) are installed.
 *
 *   gcc -O2 -o divsufsort-time divsufsort-time.c -ldivsufsort
 *   ./divsufsort-time FILE [RUNS]
 */
#include <divsufsort.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: %s FILE [RUNS]\n", argv[0]);
    return 2;
  }
  int runs = argc > 2 ? atoi(argv[2]) : 3;
  if (runs < 1 || runs > 99) runs = 3;
  FILE *f = fopen(argv[1], "rb");
  if (!f) { perror(argv[1]); return 1; }
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  unsigned char *t = malloc(n > 0 ? n : 1);
  saidx_t *sa = malloc(sizeof(saidx_t) * (n > 0 ? n : 1));
  if (!t || !sa || fread(t, 1, n, f) != (size_t)n) { fprintf(stderr, "%s: read failed\n", argv[1]); return 1; }
  fclose(f);
  double rates[99];
  for (int r = 0; r < runs; r++) {
    struct timespec a, b;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &a);
    if (divsufsort(t, sa, (saidx_t)n) != 0) { fprintf(stderr, "divsufsort failed\n"); return 1; }
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &b);
    double secs = (b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    rates[r] = n / 1048576.0 / secs;
  }
  qsort(rates, runs, sizeof(double), cmp);
  printf("MB/s %.1f\n", rates[runs / 2]);
  return 0;
}
