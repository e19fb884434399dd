// DropBlock through the C ABI against a direct scalar reference (each element looks at every seed
// whose block could cover it), on every ISA present, several thread counts, every dtype and shapes
// with odd plane sizes, one-seed grids and rows of several stream tiles; in place; the status
// codes of bad calls; fastdrop_apply_mask_bits_scale; and the row dilation's eight-column step.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <initializer_list>
#include <vector>

#include "check.h"
#include "test_inputs.h"
#include "fastdrop/math/drop_block2d.h"
#include "fastdrop/math/dropout.h"
#include "fastdrop/fastdrop.h"

using namespace fastdrop;

namespace {

struct Shape {
  int64_t batch, channels, height, width, block;
};

struct Reference {
  std::vector<bool> keep;
  double scale;
};

// torchvision's algorithm, one element at a time: the element is dropped iff a dropped seed (i, j)
// has i <= h <= i + block - 1 and j <= w <= j + block - 1.
Reference reference(const Shape& s, double p, double eps, uint64_t seed, uint64_t offset) {
  const int64_t seed_h = s.height - s.block + 1, seed_w = s.width - s.block + 1;
  const double gamma = p * s.height * s.width / (double(s.block * s.block) * double(seed_h * seed_w));
  const DropoutParams draw = make_dropout_params(gamma, seed, offset);
  std::vector<bool> seed_dropped;
  for (int64_t u = 0; u < s.batch * s.channels * seed_h * seed_w; ++u) {
    seed_dropped.push_back(!keeps(stream_lane(seed, offset, static_cast<uint64_t>(u)), draw));
  }
  Reference ref;
  int64_t kept = 0;
  for (int64_t plane = 0; plane < s.batch * s.channels; ++plane) {
    for (int64_t h = 0; h < s.height; ++h) {
      for (int64_t w = 0; w < s.width; ++w) {
        bool dropped = false;
        for (int64_t i = 0; i < seed_h; ++i) {
          for (int64_t j = 0; j < seed_w; ++j) {
            const bool covers = i <= h && h <= i + s.block - 1 && j <= w && w <= j + s.block - 1;
            if (covers && seed_dropped[(plane * seed_h + i) * seed_w + j]) dropped = true;
          }
        }
        ref.keep.push_back(!dropped);
        kept += !dropped;
      }
    }
  }
  const int64_t n = s.batch * s.channels * s.height * s.width;
  ref.scale = kept == 0 ? 0.0 : double(n) / (eps + double(kept));
  return ref;
}

const Shape kShapes[] = {
    {2, 3, 7, 7, 3},    // 49-element planes: runs of 8 planes, rows across bytes of bits
    {1, 2, 5, 9, 5},    // one seed row, the block as high as the map
    {3, 1, 6, 4, 1},    // block 1: plain dropout with rate gamma = p
    {1, 1, 7, 7, 7},    // one seed per map
    {2, 2, 11, 210, 7}, // seed rows of several stream tiles
    {0, 3, 8, 8, 3},    // empty batch
    {1, 64, 16, 16, 5}, // planes of whole bytes of bits
    {16, 100, 7, 7, 3}, // 78400 elements: runs of 672 planes on several threads
};

const double kPs[] = {0.0, 0.1, 0.5, 1.0};
constexpr double kEps = 1e-6;

// The references of every shape and p, in that order: computed once for every ISA and dtype.
std::vector<Reference> all_references() {
  std::vector<Reference> refs;
  for (const Shape& s : kShapes) {
    for (double p : kPs) refs.push_back(reference(s, p, kEps, 21, 5));
  }
  return refs;
}

template <class T>
void check_dtype(fastdrop_dtype dtype, const std::vector<Reference>& refs, const char* isa, int threads) {
  const Reference* ref = refs.data();
  for (const Shape& s : kShapes) {
    const int64_t n = s.batch * s.channels * s.height * s.width;
    const std::vector<T> x = make_input<T>(n);
    for (double p : kPs) {
      std::vector<T> y(n);
      std::vector<uint8_t> bits((n + 7) / 8, 0xFF);
      double scale = -1;
      CHECK(fastdrop_drop_block2d_forward(dtype, x.data(), y.data(), s.batch, s.channels, s.height, s.width, s.block, p,
                                          kEps, 21, 5, bits.data(), &scale) == FASTDROP_SUCCESS, "status");
      CHECK(scale == ref->scale, "%s threads=%d p=%g scale %.17g, want %.17g", isa, threads, p, scale, ref->scale);
      const typename ComputeType<T>::type compute_scale = static_cast<typename ComputeType<T>::type>(ref->scale);
      for (int64_t i = 0; i < n; ++i) {
        const bool keep = (bits[i >> 3] >> (i & 7)) & 1;
        CHECK(keep == ref->keep[i], "%s threads=%d dtype=%d %lldx%lldx%lldx%lld block %lld p=%g element %lld", isa,
              threads, dtype, (long long)s.batch, (long long)s.channels, (long long)s.height, (long long)s.width,
              (long long)s.block, p, (long long)i);
        CHECK(same_bits(y[i], dropout_element(x[i], ref->keep[i], compute_scale)), "%s y[%lld]", isa, (long long)i);
      }
      if (n % 8) CHECK((bits[n / 8] >> (n % 8)) == 0, "bits past n are zero");
      // In place, and the backward from the bits and the scale: the same map.
      std::vector<T> inplace = x, dx(n);
      CHECK(fastdrop_drop_block2d_forward(dtype, inplace.data(), inplace.data(), s.batch, s.channels, s.height,
                                          s.width, s.block, p, kEps, 21, 5, bits.data(), nullptr) == FASTDROP_SUCCESS,
            "status");
      CHECK(fastdrop_apply_mask_bits_scale(dtype, x.data(), dx.data(), n, scale, bits.data()) == FASTDROP_SUCCESS,
            "status");
      CHECK(n == 0 || memcmp(inplace.data(), y.data(), n * sizeof(T)) == 0, "%s in place", isa);
      CHECK(n == 0 || memcmp(dx.data(), y.data(), n * sizeof(T)) == 0, "%s backward", isa);
      ++ref;
    }
  }
}

// dilate_eight_columns against a column-by-column count, for every pair of entering and leaving
// byte patterns and window counts up to 20 that keep the count from going negative: the random
// draws alone would rarely reach windows of 9 and more dropped seeds.
void check_eight_columns() {
  for (int64_t start = 0; start <= 20; ++start) {
    for (uint32_t entering = 0; entering < 256; ++entering) {
      for (uint32_t leaving = 0; leaving < 256; ++leaving) {
        uint64_t enter_bytes = 0, leave_bytes = 0, want = 0;
        int64_t count = start;
        bool valid = true;
        for (int b = 0; b < 8; ++b) {
          enter_bytes |= uint64_t((entering >> b) & 1) << (8 * b);
          leave_bytes |= uint64_t((leaving >> b) & 1) << (8 * b);
          count += int64_t((entering >> b) & 1) - int64_t((leaving >> b) & 1);
          valid = valid && count >= 0;
          want |= uint64_t(count != 0) << (8 * b);
        }
        if (!valid) continue;
        int64_t got_count = start;
        const uint64_t got = dilate_eight_columns(enter_bytes, leave_bytes, &got_count);
        CHECK(got == want && got_count == count, "count %lld entering %02x leaving %02x", (long long)start, entering,
              leaving);
      }
    }
  }
}

void check_everything_dropped() {
  // p = 1 with block 1 drops every seed: zeros and scale 0, even with eps = 0 (no inf, no NaN).
  std::vector<float> x(2 * 3 * 4 * 5, 1.5f), y(x.size(), 7.0f);
  std::vector<uint8_t> bits(15);
  double scale = -1;
  CHECK(fastdrop_drop_block2d_forward(FASTDROP_FLOAT32, x.data(), y.data(), 2, 3, 4, 5, 1, 1.0, 0.0, 1, 2,
                                      bits.data(), &scale) == FASTDROP_SUCCESS, "status");
  CHECK(scale == 0.0, "scale %g", scale);
  for (float v : y) CHECK(v == 0.0f && !signbit(v), "all zeros, got %g", v);
  for (uint8_t b : bits) CHECK(b == 0, "no keep bit");
}

void check_errors() {
  float x[64] = {0}, y[64];
  uint8_t bits[8];
  memset(y, 0x7f, sizeof y);
  auto call = [&](fastdrop_dtype dtype, int64_t batch, int64_t height, int64_t width, int64_t block, double p,
                  double eps, const float* in, float* out, uint8_t* mask) {
    return fastdrop_drop_block2d_forward(dtype, in, out, batch, 1, height, width, block, p, eps, 0, 0, mask, nullptr);
  };
  CHECK(call(FASTDROP_FLOAT32, 1, 8, 8, 3, 0.1, 1e-6, x, y, bits) == FASTDROP_SUCCESS, "valid call");
  memset(y, 0x7f, sizeof y);
  for (double p : {-0.1, 1.5, static_cast<double>(NAN)}) {
    CHECK(call(FASTDROP_FLOAT32, 1, 8, 8, 3, p, 1e-6, x, y, bits) == FASTDROP_ERROR_INVALID_VALUE, "p = %g", p);
  }
  for (double eps : {-1e-6, static_cast<double>(INFINITY), static_cast<double>(NAN)}) {
    CHECK(call(FASTDROP_FLOAT32, 1, 8, 8, 3, 0.1, eps, x, y, bits) == FASTDROP_ERROR_INVALID_VALUE, "eps = %g", eps);
  }
  for (int64_t block : {0, -1, 2, 4, 9}) {
    CHECK(call(FASTDROP_FLOAT32, 1, 8, 8, block, 0.1, 1e-6, x, y, bits) == FASTDROP_ERROR_INVALID_VALUE,
          "block %lld", (long long)block);
  }
  CHECK(call(FASTDROP_FLOAT32, 1, 16, 4, 5, 0.1, 1e-6, x, y, bits) == FASTDROP_ERROR_INVALID_VALUE,
        "block wider than the map");
  CHECK(call(FASTDROP_FLOAT32, -1, 8, 8, 3, 0.1, 1e-6, x, y, bits) == FASTDROP_ERROR_INVALID_VALUE, "batch < 0");
  CHECK(call(static_cast<fastdrop_dtype>(9), 1, 8, 8, 3, 0.1, 1e-6, x, y, bits) == FASTDROP_ERROR_UNSUPPORTED_DTYPE,
        "dtype");
  CHECK(call(FASTDROP_FLOAT32, 1, 8, 8, 3, 0.1, 1e-6, nullptr, y, bits) == FASTDROP_ERROR_NULL_POINTER, "null x");
  CHECK(call(FASTDROP_FLOAT32, 1, 8, 8, 3, 0.1, 1e-6, x, y, nullptr) == FASTDROP_ERROR_NULL_POINTER, "null bits");
  CHECK(call(FASTDROP_FLOAT32, 0, 8, 8, 3, 0.1, 1e-6, nullptr, nullptr, nullptr) == FASTDROP_SUCCESS, "empty batch");
  for (float v : y) CHECK(v != 0.0f, "failed calls leave the output untouched");
  CHECK(fastdrop_apply_mask_bits_scale(FASTDROP_FLOAT32, x, y, 64, static_cast<double>(INFINITY), bits) ==
            FASTDROP_ERROR_INVALID_VALUE, "infinite scale");
  CHECK(fastdrop_apply_mask_bits_scale(FASTDROP_FLOAT32, x, y, -1, 1.0, bits) == FASTDROP_ERROR_INVALID_VALUE, "n < 0");
  CHECK(fastdrop_apply_mask_bits_scale(FASTDROP_FLOAT32, x, y, 64, 1.0, nullptr) == FASTDROP_ERROR_NULL_POINTER,
        "null bits");
  CHECK(strlen(fastdrop_status_string(FASTDROP_ERROR_OUT_OF_MEMORY)) > 0, "status string");
}

}  // namespace

int main() {
  check_errors();
  check_eight_columns();
  check_everything_dropped();
  const std::vector<Reference> refs = all_references();
  for_each_isa_and_thread_count([&](const char* name, int threads) {
    check_dtype<float16_bits>(FASTDROP_FLOAT16, refs, name, threads);
    check_dtype<bfloat16_bits>(FASTDROP_BFLOAT16, refs, name, threads);
    check_dtype<float>(FASTDROP_FLOAT32, refs, name, threads);
    check_dtype<double>(FASTDROP_FLOAT64, refs, name, threads);
  });
  return finish("drop_block2d");
}
