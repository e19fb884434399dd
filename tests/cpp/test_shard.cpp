// The _runs entry points: a shard (a slice along one dimension of a logical tensor) computed on
// its own equals that slice of the whole tensor's result, bit for bit, on every ISA and thread
// count; masks of the units likewise; bad runs are refused.
#include <functional>
#include <vector>

#include "test_inputs.h"

namespace {

using Shape = std::vector<int64_t>;

int64_t count(const Shape& shape) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  return n;
}

// The slice [start, start + len) along dim of a row-major array of shape `global`.
struct Slice {
  Shape global;
  int dim;
  int64_t start, len;

  int64_t inner() const {
    int64_t n = 1;
    for (size_t d = static_cast<size_t>(dim) + 1; d < global.size(); ++d) n *= global[d];
    return n;
  }
  int64_t outer() const {
    int64_t n = 1;
    for (int d = 0; d < dim; ++d) n *= global[static_cast<size_t>(d)];
    return n;
  }
  fastdrop_unit_runs runs() const {
    return fastdrop_unit_runs{static_cast<uint64_t>(start * inner()), len * inner(),
                              static_cast<uint64_t>(global[static_cast<size_t>(dim)] * inner())};
  }
  // The local elements taken from a whole array, in local row-major order.
  template <class T>
  std::vector<T> take(const std::vector<T>& whole) const {
    std::vector<T> part;
    const fastdrop_unit_runs r = runs();
    for (int64_t o = 0; o < outer(); ++o) {
      for (int64_t j = 0; j < r.run_length; ++j) part.push_back(whole[static_cast<size_t>(r.first + o * r.run_stride + j)]);
    }
    return part;
  }
};

template <class T>
bool same_arrays(const std::vector<T>& a, const std::vector<T>& b) {
  return a.size() == b.size() && (a.empty() || memcmp(a.data(), b.data(), a.size() * sizeof(T)) == 0);
}

// out = op(in) over elements with the given runs (nullptr: the whole, unsharded call).
template <class T>
using ShardedOp = std::function<fastdrop_status(const T* in, T* out, int64_t n, const fastdrop_unit_runs* runs)>;

template <class T>
void check_slices(const char* what, const char* isa, int threads, const std::vector<Slice>& slices, ShardedOp<T> op) {
  const Shape& global = slices.front().global;
  const std::vector<T> x = make_input<T>(count(global));
  std::vector<T> whole(x.size());
  CHECK(op(x.data(), whole.data(), count(global), nullptr) == FASTDROP_SUCCESS, "%s whole", what);
  for (const Slice& s : slices) {
    const std::vector<T> local = s.take(x);
    std::vector<T> out(local.size());
    const fastdrop_unit_runs runs = s.runs();
    CHECK(op(local.data(), out.data(), static_cast<int64_t>(local.size()), &runs) == FASTDROP_SUCCESS, "%s status", what);
    CHECK(same_arrays(out, s.take(whole)), "%s %s threads=%d dim=%d start=%lld len=%lld", what, isa, threads, s.dim,
          static_cast<long long>(s.start), static_cast<long long>(s.len));
  }
}

// Slices along each dimension of a shape large enough for several chunks and threads; starts,
// lengths and the last dimension even, as Gaussian dropout's pairs need.
std::vector<Slice> slices_of(const Shape& global) {
  std::vector<Slice> slices;
  for (int d = 0; d < static_cast<int>(global.size()); ++d) {
    const int64_t size = global[static_cast<size_t>(d)];
    slices.push_back(Slice{global, d, 0, size});
    slices.push_back(Slice{global, d, 2, 2});
    slices.push_back(Slice{global, d, size - 4, 4});
  }
  return slices;
}

const Shape kShape = {6, 34, 2050};
const uint64_t kSeed = 0x123456789abcdefull, kOffset = 77;

template <class T>
void check_dtype(fastdrop_dtype dtype, const char* isa, int threads) {
  const std::vector<Slice> slices = slices_of(kShape);
  check_slices<T>("dropout", isa, threads, slices, [&](const T* in, T* out, int64_t n, const fastdrop_unit_runs* runs) {
    return runs ? fastdrop_dropout_forward_runs(dtype, in, out, n, 0.3, kSeed, kOffset, runs)
                : fastdrop_dropout_forward(dtype, in, out, n, 0.3, kSeed, kOffset, nullptr, nullptr);
  });
  check_slices<T>("alpha", isa, threads, slices, [&](const T* in, T* out, int64_t n, const fastdrop_unit_runs* runs) {
    return runs ? fastdrop_alpha_dropout_forward_runs(dtype, in, out, n, 0.2, kSeed, kOffset, runs)
                : fastdrop_alpha_dropout_forward(dtype, in, out, n, 0.2, kSeed, kOffset, nullptr);
  });
  check_slices<T>("alpha backward", isa, threads, slices,
                  [&](const T* in, T* out, int64_t n, const fastdrop_unit_runs* runs) {
                    return runs ? fastdrop_alpha_dropout_backward_runs(dtype, in, out, n, 0.2, kSeed, kOffset, runs)
                                : fastdrop_alpha_dropout_backward(dtype, in, out, n, 0.2, kSeed, kOffset);
                  });
  check_slices<T>("gaussian", isa, threads, slices, [&](const T* in, T* out, int64_t n, const fastdrop_unit_runs* runs) {
    return runs ? fastdrop_gaussian_dropout_forward_runs(dtype, in, out, n, 0.4, kSeed, kOffset, runs)
                : fastdrop_gaussian_dropout_forward(dtype, in, out, n, 0.4, kSeed, kOffset);
  });
  // Bias and residual: the bias is the shard's own columns when the last dimension is split.
  const int64_t cols = kShape.back();
  const std::vector<T> bias = make_input<T>(cols + 3);
  for (const Slice& s : slices) {
    const bool split_cols = s.dim == static_cast<int>(kShape.size()) - 1;
    const std::vector<T> x = make_input<T>(count(kShape));
    std::vector<T> residual(x.rbegin(), x.rend());
    std::vector<T> whole(x.size());
    CHECK(fastdrop_bias_dropout_add_forward(dtype, x.data(), bias.data(), residual.data(), whole.data(),
                                            count(kShape) / cols, cols, 0.3, kSeed, kOffset, nullptr) == FASTDROP_SUCCESS,
          "bias_dropout_add whole");
    const std::vector<T> local = s.take(x), local_residual = s.take(residual);
    const int64_t local_cols = split_cols ? s.len : cols;
    const T* local_bias = bias.data() + (split_cols ? s.start : 0);
    std::vector<T> out(local.size());
    const fastdrop_unit_runs runs = s.runs();
    CHECK(fastdrop_bias_dropout_add_forward_runs(dtype, local.data(), local_bias, local_residual.data(), out.data(),
                                                 static_cast<int64_t>(local.size()) / local_cols, local_cols, 0.3,
                                                 kSeed, kOffset, &runs) == FASTDROP_SUCCESS,
          "bias_dropout_add status");
    CHECK(same_arrays(out, s.take(whole)), "bias_dropout_add %s threads=%d dim=%d start=%lld", isa, threads, s.dim,
          static_cast<long long>(s.start));
  }
  // Bias + activation + dropout, forward and backward (the mask regenerated), the bias as above.
  const std::vector<T> x = make_input<T>(count(kShape));
  const std::vector<T> dy(x.rbegin(), x.rend());
  const int64_t rows = count(kShape) / cols;
  for (fastdrop_activation act : {FASTDROP_ACTIVATION_RELU, FASTDROP_ACTIVATION_GELU, FASTDROP_ACTIVATION_GELU_TANH}) {
    std::vector<T> whole_y(x.size()), whole_dx(x.size());
    CHECK(fastdrop_bias_act_dropout_forward(act, dtype, x.data(), bias.data(), whole_y.data(), rows, cols, 0.3, kSeed,
                                            kOffset, nullptr) == FASTDROP_SUCCESS,
          "bias_act_dropout whole");
    CHECK(fastdrop_bias_act_dropout_backward(act, dtype, dy.data(), x.data(), bias.data(), whole_dx.data(), rows, cols,
                                             0.3, kSeed, kOffset) == FASTDROP_SUCCESS,
          "bias_act_dropout backward whole");
    for (const Slice& s : slices) {
      const bool split_cols = s.dim == static_cast<int>(kShape.size()) - 1;
      const std::vector<T> local_x = s.take(x), local_dy = s.take(dy);
      const int64_t local_cols = split_cols ? s.len : cols;
      const int64_t local_rows = static_cast<int64_t>(local_x.size()) / local_cols;
      const T* local_bias = bias.data() + (split_cols ? s.start : 0);
      std::vector<T> y(local_x.size()), dx(local_x.size());
      const fastdrop_unit_runs runs = s.runs();
      CHECK(fastdrop_bias_act_dropout_forward_runs(act, dtype, local_x.data(), local_bias, y.data(), local_rows,
                                                   local_cols, 0.3, kSeed, kOffset, &runs) == FASTDROP_SUCCESS,
            "bias_act_dropout status");
      CHECK(fastdrop_bias_act_dropout_backward_runs(act, dtype, local_dy.data(), local_x.data(), local_bias, dx.data(),
                                                    local_rows, local_cols, 0.3, kSeed, kOffset,
                                                    &runs) == FASTDROP_SUCCESS,
            "bias_act_dropout backward status");
      CHECK(same_arrays(y, s.take(whole_y)), "bias_act_dropout act=%d %s threads=%d dim=%d start=%lld", act, isa,
            threads, s.dim, static_cast<long long>(s.start));
      CHECK(same_arrays(dx, s.take(whole_dx)), "bias_act_dropout backward act=%d %s threads=%d dim=%d start=%lld", act,
            isa, threads, s.dim, static_cast<long long>(s.start));
    }
  }
}

// The keep bits of a shard's units, run by run from whole bytes, against the whole tensor's.
void check_mask_bits(const char* isa, int threads) {
  const int64_t n = count(kShape);
  std::vector<uint8_t> whole(static_cast<size_t>((n + 7) / 8));
  CHECK(fastdrop_dropout_mask_bits(n, 0.3, kSeed, kOffset, whole.data()) == FASTDROP_SUCCESS, "mask bits whole");
  for (const Slice& s : slices_of(kShape)) {
    const fastdrop_unit_runs runs = s.runs();
    const int64_t local = s.outer() * runs.run_length;
    const int64_t run_bytes = (runs.run_length + 7) / 8;
    std::vector<uint8_t> bits(static_cast<size_t>(s.outer() * run_bytes), 0xff);
    CHECK(fastdrop_dropout_mask_bits_runs(local, 0.3, kSeed, kOffset, &runs, bits.data()) == FASTDROP_SUCCESS,
          "mask bits status");
    bool same = true;
    for (int64_t r = 0; r < s.outer(); ++r) {
      for (int64_t j = 0; j < 8 * run_bytes; ++j) {
        const int got = (bits[static_cast<size_t>(r * run_bytes + j / 8)] >> (j % 8)) & 1;
        const uint64_t u = runs.first + static_cast<uint64_t>(r) * runs.run_stride + static_cast<uint64_t>(j);
        const int expected = j < runs.run_length ? (whole[u / 8] >> (u % 8)) & 1 : 0;
        same = same && got == expected;
      }
    }
    CHECK(same, "mask bits %s threads=%d dim=%d start=%lld", isa, threads, s.dim, static_cast<long long>(s.start));
  }
}

void check_bad_runs() {
  std::vector<float> x(12), y(12);
  const fastdrop_unit_runs uneven{0, 5, 10}, empty_run{0, 0, 0}, odd{1, 4, 8};
  CHECK(fastdrop_dropout_forward_runs(FASTDROP_FLOAT32, x.data(), y.data(), 12, 0.5, 1, 2, &uneven) ==
            FASTDROP_ERROR_INVALID_VALUE, "n not a multiple of run_length");
  CHECK(fastdrop_dropout_forward_runs(FASTDROP_FLOAT32, x.data(), y.data(), 12, 0.5, 1, 2, &empty_run) ==
            FASTDROP_ERROR_INVALID_VALUE, "empty runs for elements");
  CHECK(fastdrop_dropout_forward_runs(FASTDROP_FLOAT32, x.data(), y.data(), 12, 0.5, 1, 2, nullptr) ==
            FASTDROP_ERROR_INVALID_VALUE, "null runs");
  CHECK(fastdrop_gaussian_dropout_forward_runs(FASTDROP_FLOAT32, x.data(), y.data(), 12, 0.5, 1, 2, &odd) ==
            FASTDROP_ERROR_INVALID_VALUE, "gaussian runs splitting a pair");
  CHECK(fastdrop_dropout_mask_bits_runs(12, 1.5, 1, 2, &odd, nullptr) == FASTDROP_ERROR_INVALID_VALUE, "bad p");
  CHECK(fastdrop_dropout_forward_runs(FASTDROP_FLOAT32, nullptr, nullptr, 0, 0.5, 1, 2, &empty_run) == FASTDROP_SUCCESS,
        "no elements");
  CHECK(fastdrop_bias_act_dropout_forward_runs(FASTDROP_ACTIVATION_GELU, FASTDROP_FLOAT32, x.data(), nullptr, y.data(),
                                               2, 6, 0.5, 1, 2, nullptr) == FASTDROP_ERROR_INVALID_VALUE,
        "bias_act_dropout null runs");
  CHECK(fastdrop_bias_act_dropout_backward_runs(FASTDROP_ACTIVATION_GELU, FASTDROP_FLOAT32, x.data(), x.data(), nullptr,
                                                y.data(), 2, 6, 0.5, 1, 2, &uneven) == FASTDROP_ERROR_INVALID_VALUE,
        "bias_act_dropout backward n not a multiple of run_length");
}

}  // namespace

int main() {
  for_each_isa_and_thread_count([](const char* isa, int threads) {
    check_dtype<float>(FASTDROP_FLOAT32, isa, threads);
    check_dtype<fastdrop::bfloat16_bits>(FASTDROP_BFLOAT16, isa, threads);
    check_dtype<double>(FASTDROP_FLOAT64, isa, threads);
    check_mask_bits(isa, threads);
  });
  check_bad_runs();
  return finish("shard");
}
