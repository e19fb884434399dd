// The fused bias + dropout + residual add through the C ABI against a per-element reference built
// from philox.h and fastdrop/math/, on every ISA present and several thread counts.
#include <stdio.h>
#include <string.h>

#include <initializer_list>
#include <vector>

#include "check.h"
#include "test_inputs.h"
#include "fastdrop/math/bias_dropout_add.h"
#include "fastdrop/fastdrop.h"

using namespace fastdrop;

namespace {

void check_bias_dropout_add(const char* isa) {
  for (int64_t cols : {1, 7, 96, 1000}) {
    const int64_t rows = 37;
    const int64_t n = rows * cols;
    const std::vector<float> x = make_input<float>(n), r = make_input<float>(n + 3), b = make_input<float>(cols + 5);
    for (bool with_bias : {true, false}) {
      std::vector<float> y(n);
      std::vector<uint8_t> bits((n + 7) / 8);
      CHECK(fastdrop_bias_dropout_add_forward(FASTDROP_FLOAT32, x.data(), with_bias ? b.data() + 5 : nullptr,
                                              r.data() + 3, y.data(), rows, cols, 0.3, 9, 1, bits.data()) ==
                FASTDROP_SUCCESS, "status");
      const DropoutParams params = make_dropout_params(0.3, 9, 1);
      for (int64_t i = 0; i < n; ++i) {
        const bool keep = keeps(stream_lane(9, 1, i), params);
        const float want = bias_dropout_add_element(x[i], with_bias ? b[5 + i % cols] : 0.0f, r[3 + i], keep,
                                                    params.scale_f32);
        CHECK(memcmp(&y[i], &want, 4) == 0, "%s bias_dropout_add cols=%lld element %lld", isa, (long long)cols,
              (long long)i);
        CHECK(((bits[i >> 3] >> (i & 7)) & 1) == keep, "%s bias_dropout_add bit %lld", isa, (long long)i);
      }
    }
  }
}

void check_errors() {
  float x[4] = {1, 2, 3, 4}, y[4] = {};
  CHECK(fastdrop_bias_dropout_add_forward(FASTDROP_FLOAT32, x, nullptr, nullptr, y, 2, 2, 0.5, 0, 0, nullptr) ==
            FASTDROP_ERROR_NULL_POINTER, "null residual");
  CHECK(fastdrop_bias_dropout_add_forward(FASTDROP_FLOAT32, x, nullptr, x, y, -2, 2, 0.5, 0, 0, nullptr) ==
            FASTDROP_ERROR_INVALID_VALUE, "negative rows");
  CHECK(y[0] == 0 && y[3] == 0, "failed calls write nothing");
}

}  // namespace

int main() {
  check_errors();
  for_each_isa_and_thread_count([](const char* name, int) {
    check_bias_dropout_add(name);
  });
  return finish("bias_dropout_add");
}
