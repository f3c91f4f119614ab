/* Minimal assertion helpers for the C tests: print both sides, exit non-zero on failure. */
#ifndef NMIF_TEST_CHECK_H
#define NMIF_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>

#define CHECK_SKIP 77

#define CHECK(cond)                                                                    \
  do {                                                                                 \
    if (!(cond)) {                                                                     \
      fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);         \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

#define CHECK_EQ(a, b)                                                                 \
  do {                                                                                 \
    long long check_a_ = (long long)(a), check_b_ = (long long)(b);                    \
    if (check_a_ != check_b_) {                                                        \
      fprintf(stderr, "%s:%d: CHECK_EQ(%s, %s) failed: %lld != %lld\n", __FILE__,      \
              __LINE__, #a, #b, check_a_, check_b_);                                   \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

#define CHECK_OK(expr)                                                                 \
  do {                                                                                 \
    long long check_r_ = (long long)(expr);                                            \
    if (check_r_ < 0) {                                                                \
      fprintf(stderr, "%s:%d: %s failed: %lld (%s)\n", __FILE__, __LINE__, #expr,      \
              check_r_, nmif_strerror((int)check_r_));                                 \
      exit(1);                                                                         \
    }                                                                                  \
  } while (0)

#define SKIP(why)                                                                      \
  do {                                                                                 \
    printf("SKIP: %s\n", why);                                                         \
    exit(CHECK_SKIP);                                                                  \
  } while (0)

#endif
