// More than 2^32 elements in one call (float16, in place, 8 GiB): units past 2^32 must get their
// own lanes, not those of unit i mod 2^32.
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "fastdrop/math/dropout.h"
#include "fastdrop/fastdrop.h"

using namespace fastdrop;

int main() {
  const int64_t n = (int64_t(1) << 32) + 4099;
  uint16_t* x = static_cast<uint16_t*>(malloc(static_cast<size_t>(n) * sizeof(uint16_t)));
  if (!x) {
    printf("skipped: could not allocate %lld bytes\n", (long long)(n * 2));
    return 0;
  }
  const uint16_t one = float_to_half_rne(1.0f);
#pragma omp parallel for
  for (int64_t i = 0; i < n; ++i) x[i] = one;
  const double p = 0.5;
  CHECK(fastdrop_dropout_forward(FASTDROP_FLOAT16, x, x, n, p, 42, 3, nullptr, nullptr) ==
            FASTDROP_SUCCESS, "status");
  const DropoutParams params = make_dropout_params(p, 42, 3);
  const uint16_t two = float_to_half_rne(2.0f);
  for (int64_t i = n - 8192; i < n; ++i) {
    const bool keep = keeps(stream_lane(42, 3, static_cast<uint64_t>(i)), params);
    CHECK(x[i] == (keep ? two : 0), "element %lld", (long long)i);
  }
  free(x);
  return finish("huge");
}
