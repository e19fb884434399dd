// Alpha dropout through the C ABI against a per-element reference built from philox.h and
// fastdrop/math/, on every ISA present and several thread counts.
#include <stdio.h>
#include <string.h>

#include <initializer_list>
#include <vector>

#include "check.h"
#include "test_inputs.h"
#include "fastdrop/math/alpha_dropout.h"
#include "fastdrop/math/dropout.h"
#include "fastdrop/fastdrop.h"

using namespace fastdrop;

namespace {

void check_alpha(const char* isa) {
  for (int64_t n : {0, 5, 4099, 70001}) {
    const std::vector<float> x = make_input<float>(n);
    for (double p : {0.0, 0.2, 0.8, 1.0}) {
      const DropoutParams params = make_dropout_params(p, 1, 2);
      const AlphaParams alpha = make_alpha_params(p);
      std::vector<float> y(n), dx(n), dx_bits(n);
      std::vector<uint8_t> bits((n + 7) / 8);
      CHECK(fastdrop_alpha_dropout_forward(FASTDROP_FLOAT32, x.data(), y.data(), n, p, 1, 2, bits.data()) ==
                FASTDROP_SUCCESS, "status");
      CHECK(fastdrop_alpha_dropout_backward(FASTDROP_FLOAT32, x.data(), dx.data(), n, p, 1, 2) == FASTDROP_SUCCESS,
            "status");
      const int64_t shape[1] = {n}, strides[1] = {1};
      CHECK(fastdrop_apply_mask_bits(FASTDROP_APPLY_ALPHA_GRAD, FASTDROP_FLOAT32, x.data(), dx_bits.data(), 1, shape,
                                     strides, p, bits.data(), static_cast<int64_t>(bits.size())) == FASTDROP_SUCCESS,
            "status");
      for (int64_t i = 0; i < n; ++i) {
        const bool keep = keeps(stream_lane(1, 2, i), params);
        const float want = alpha_dropout_element(x[i], keep, alpha.f32);
        const float grad = dropout_element(x[i], keep, alpha.f32.a);
        CHECK(memcmp(&y[i], &want, 4) == 0, "%s alpha forward %lld p=%g", isa, (long long)i, p);
        CHECK(memcmp(&dx[i], &grad, 4) == 0 && memcmp(&dx_bits[i], &grad, 4) == 0, "%s alpha backward %lld", isa,
              (long long)i);
        if (p == 1.0) CHECK(y[i] == 0.0f && dx[i] == 0.0f, "p = 1 gives zeros");
      }
    }
  }
}

void check_errors() {
  float x[4] = {1, 2, 3, 4}, y[4] = {};
  CHECK(fastdrop_alpha_dropout_forward(FASTDROP_FLOAT32, x, y, 4, -1.0, 0, 0, nullptr) ==
            FASTDROP_ERROR_INVALID_VALUE, "alpha p");
  CHECK(y[0] == 0 && y[3] == 0, "failed calls write nothing");
}

}  // namespace

int main() {
  check_errors();
  for_each_isa_and_thread_count([](const char* name, int) {
    check_alpha(name);
  });
  return finish("alpha_dropout");
}
