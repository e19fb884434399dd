// The apply of stored keep bits (fastdrop_apply_mask_bits, every kind) through the C ABI against a
// per-element reference built from philox.h and fastdrop/math/, on every ISA present and several
// thread counts.
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

// Broadcast apply of every kind over a 4-D shape with several unit-stride patterns.
void check_apply(const char* isa) {
  const int64_t shape[4] = {3, 5, 7, 300};
  const int64_t n = 3 * 5 * 7 * 300;
  const std::vector<float> x = make_input<float>(n);
  // Unit strides for noise shapes (3, 1, 7, 1), (3, 5, 7, 300) and (1, 1, 1, 300), and a layout
  // whose last dimension is not the fastest in unit space.
  const int64_t patterns[][4] = {{7, 0, 1, 0}, {5 * 7 * 300, 7 * 300, 300, 1}, {0, 0, 0, 1}, {1, 0, 0, 3}};
  const double p = 0.4;
  const DropoutParams params = make_dropout_params(p, 0, 0);
  const AlphaParams alpha = make_alpha_params(p);
  for (const auto& strides : patterns) {
    int64_t units = 1;
    for (int d = 0; d < 4; ++d) units += (shape[d] - 1) * strides[d];
    std::vector<uint8_t> bits((units + 7) / 8);
    CHECK(fastdrop_dropout_mask_bits(units, p, 11, 12, bits.data()) == FASTDROP_SUCCESS, "status");
    for (int kind = FASTDROP_APPLY_DROPOUT; kind <= FASTDROP_APPLY_ALPHA_GRAD; ++kind) {
      std::vector<float> y(n);
      CHECK(fastdrop_apply_mask_bits(fastdrop_apply_kind(kind), FASTDROP_FLOAT32, x.data(), y.data(), 4, shape,
                                     strides, p, bits.data(), static_cast<int64_t>(bits.size())) == FASTDROP_SUCCESS, "status");
      int64_t i = 0;
      for (int64_t a = 0; a < shape[0]; ++a)
        for (int64_t b = 0; b < shape[1]; ++b)
          for (int64_t c = 0; c < shape[2]; ++c)
            for (int64_t e = 0; e < shape[3]; ++e, ++i) {
              const uint64_t u = a * strides[0] + b * strides[1] + c * strides[2] + e * strides[3];
              const bool keep = reference_keep(u, p, 11, 12);
              const float want = kind == FASTDROP_APPLY_DROPOUT ? dropout_element(x[i], keep, params.scale_f32)
                                 : kind == FASTDROP_APPLY_ALPHA ? alpha_dropout_element(x[i], keep, alpha.f32)
                                                                : dropout_element(x[i], keep, alpha.f32.a);
              CHECK(memcmp(&y[i], &want, 4) == 0, "%s kind %d element %lld", isa, kind, (long long)i);
            }
    }
  }
}

void check_errors() {
  float x[4] = {1, 2, 3, 4}, y[4] = {};
  uint8_t bits[1] = {0xFF};
  const int64_t shape[1] = {4}, strides[1] = {1}, negative[1] = {-1};
  const int64_t wide[1] = {9};
  CHECK(fastdrop_apply_mask_bits(fastdrop_apply_kind(9), FASTDROP_FLOAT32, x, y, 1, shape, strides, 0.5, bits, 1) ==
            FASTDROP_ERROR_INVALID_VALUE, "kind");
  CHECK(fastdrop_apply_mask_bits(FASTDROP_APPLY_DROPOUT, FASTDROP_FLOAT32, x, y, 0, shape, strides, 0.5, bits, 1) ==
            FASTDROP_ERROR_INVALID_VALUE, "ndim 0");
  CHECK(fastdrop_apply_mask_bits(FASTDROP_APPLY_DROPOUT, FASTDROP_FLOAT32, x, y, 1, shape, negative, 0.5, bits, 1) ==
            FASTDROP_ERROR_INVALID_VALUE, "negative stride");
  CHECK(fastdrop_apply_mask_bits(FASTDROP_APPLY_DROPOUT, FASTDROP_FLOAT32, x, y, 1, shape, strides, 0.5, nullptr, 1) ==
            FASTDROP_ERROR_NULL_POINTER, "null unit bits");
  CHECK(fastdrop_apply_mask_bits(FASTDROP_APPLY_DROPOUT, FASTDROP_FLOAT32, x, y, 1, wide, strides, 0.5, bits, 1) ==
            FASTDROP_ERROR_INVALID_VALUE, "unit bits too short for 9 units");
  CHECK(y[0] == 0 && y[3] == 0 && bits[0] == 0xFF, "failed calls write nothing");
}

}  // namespace

int main() {
  check_errors();
  for_each_isa_and_thread_count([](const char* name, int) {
    check_apply(name);
  });
  return finish("apply_mask_bits");
}
