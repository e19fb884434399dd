// A minimal check macro for the ctest programs: report and count failures, exit non-zero at the end.
#pragma once
#include <stdio.h>

static int g_failures = 0;

#define CHECK(cond, ...)                                               \
  do {                                                                 \
    if (!(cond)) {                                                     \
      ++g_failures;                                                    \
      if (g_failures <= 20) {                                          \
        fprintf(stderr, "%s:%d: CHECK(%s) failed: ", __FILE__, __LINE__, #cond); \
        fprintf(stderr, __VA_ARGS__);                                  \
        fprintf(stderr, "\n");                                         \
      }                                                                \
    }                                                                  \
  } while (0)

static int finish(const char* name) {
  if (g_failures) {
    fprintf(stderr, "%s: %d check(s) failed\n", name, g_failures);
    return 1;
  }
  printf("%s: all checks passed\n", name);
  return 0;
}
