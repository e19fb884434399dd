// CPU kernels of the fused bias + activation + dropout, y = dropout(act(x + b)), and of its
// backward, for (rows, cols) data with a bias of cols: one pass each that draws the mask (or reads
// its bits), adds the bias and applies the activation or its derivative (dropout_math.h).
// Compiled once per ISA like dropout_kernel.cpp.
#include "bias_act_table.h"
#include "philox_stream.h"

namespace fastdrop::cpu::FASTDROP_ISA {
namespace {

// Units per tile, as the dropout forward's (see dropout_kernel.cpp).
constexpr int64_t kTile = 96;
static_assert(kTile % (4 * kBlocksPerStep) == 0 && kTile % 8 == 0, "tiles hold whole steps and mask bytes");

// keep[0, len) of units [unit, unit + len): from the stream, or from `bits` (the tile's first
// mask byte) when it is not null.
inline void tile_keeps(const RoundKeys& keys, const DropoutParams& params, uint64_t unit, int64_t len,
                       const uint8_t* bits, uint32_t* words, uint8_t* keep) {
  if (bits) {
    for (int64_t j = 0; j < (len + 7) / 8; ++j) unpack8(bits[j], keep + 8 * j);
    return;
  }
  tile_words(keys, params.offset, unit, len, words);
  const uint32_t* w = words + (unit & 3u);
  for (int64_t i = 0; i < len; ++i) keep[i] = keeps(w[i], params);
}

// body(i, col, seg) for the segments [i, i + seg) of a tile of len units from `unit` on that stay
// within one row, col being the column of unit + i: the bias is then read contiguously.
template <class Body>
inline void for_each_row_segment(uint64_t unit, int64_t len, int64_t cols, Body body) {
  for (int64_t i = 0; i < len;) {
    const int64_t col = static_cast<int64_t>((unit + static_cast<uint64_t>(i)) % static_cast<uint64_t>(cols));
    const int64_t seg = cols - col < len - i ? cols - col : len - i;
    body(i, col, seg);
    i += seg;
  }
}

// The forward (dy null) or backward over elements [first, first + n) of the call; kBias: a bias
// is given (else 0 is added).
template <class T, class Act, bool kBias>
void run_tiles(const T* dy, const T* x, const T* bias, T* out, int64_t cols, uint64_t first, int64_t n,
               const DropoutParams& call, const uint8_t* bits_in, uint8_t* bits_out) {
  using C = typename ComputeType<T>::type;
  const DropoutParams params = call;  // local: stores through out cannot alias it
  const C scale = scale_of(params, C{});
  const T zero = from_compute(C(0), T{});
  const RoundKeys keys = round_keys(params.seed);
  alignas(64) uint32_t words[kTile + 4 * kBlocksPerStep];
  alignas(64) uint8_t keep[kTile];
  for (int64_t t = 0; t < n; t += kTile) {
    const int64_t len = n - t < kTile ? n - t : kTile;
    const uint64_t unit = first + static_cast<uint64_t>(t);
    tile_keeps(keys, params, unit, len, bits_in ? bits_in + t / 8 : nullptr, words, keep);
    for_each_row_segment(unit, len, cols, [&](int64_t i, int64_t col, int64_t seg) {
      const int64_t at = t + i;
      if (dy) {
        for (int64_t j = 0; j < seg; ++j) {
          out[at + j] = bias_act_dropout_grad_element(Act{}, dy[at + j], x[at + j], kBias ? bias[col + j] : zero,
                                                      keep[i + j] != 0, scale);
        }
      } else {
        for (int64_t j = 0; j < seg; ++j) {
          out[at + j] = bias_act_dropout_element(Act{}, x[at + j], kBias ? bias[col + j] : zero, keep[i + j] != 0,
                                                 scale);
        }
      }
    });
    if (bits_out) store_mask_bits(keep, len, bits_out + t / 8);
  }
}

template <class T, class Act>
void run(const void* dy, const void* x, const void* bias, void* out, int64_t cols, uint64_t first, int64_t n,
         const DropoutParams& params, const uint8_t* bits_in, uint8_t* bits_out) {
  const T* g = static_cast<const T*>(dy);
  const T* xs = static_cast<const T*>(x);
  const T* b = static_cast<const T*>(bias);
  T* o = static_cast<T*>(out);
  if (b) {
    run_tiles<T, Act, true>(g, xs, b, o, cols, first, n, params, bits_in, bits_out);
  } else {
    run_tiles<T, Act, false>(g, xs, b, o, cols, first, n, params, bits_in, bits_out);
  }
}

template <class T, class Act>
void forward(const void* x, const void* bias, void* y, int64_t cols, uint64_t first, int64_t n,
             const DropoutParams& params, uint8_t* mask_bits) {
  run<T, Act>(nullptr, x, bias, y, cols, first, n, params, nullptr, mask_bits);
}

template <class T, class Act>
void backward(const void* dy, const void* x, const void* bias, void* dx, int64_t cols, uint64_t first, int64_t n,
              const DropoutParams& params, const uint8_t* mask_bits) {
  run<T, Act>(dy, x, bias, dx, cols, first, n, params, mask_bits, nullptr);
}

}  // namespace

const BiasActTable& bias_act_kernels() {
  static const BiasActTable table = {
      {{forward<float16_bits, Relu>, forward<bfloat16_bits, Relu>, forward<float, Relu>, forward<double, Relu>},
       {forward<float16_bits, Gelu>, forward<bfloat16_bits, Gelu>, forward<float, Gelu>, forward<double, Gelu>},
       {forward<float16_bits, GeluTanh>, forward<bfloat16_bits, GeluTanh>, forward<float, GeluTanh>,
        forward<double, GeluTanh>}},
      {{backward<float16_bits, Relu>, backward<bfloat16_bits, Relu>, backward<float, Relu>, backward<double, Relu>},
       {backward<float16_bits, Gelu>, backward<bfloat16_bits, Gelu>, backward<float, Gelu>, backward<double, Gelu>},
       {backward<float16_bits, GeluTanh>, backward<bfloat16_bits, GeluTanh>, backward<float, GeluTanh>,
        backward<double, GeluTanh>}},
  };
  return table;
}

}  // namespace fastdrop::cpu::FASTDROP_ISA
