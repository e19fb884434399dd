// Fused bias + activation + dropout: the C ABI against the per-element math of fastdrop/math/bias_act_dropout.h on
// every ISA present and several thread counts, every activation and dtype, odd shapes, with and
// without a bias (bit for bit, forward and both backward mask sources); the status codes of bad
// calls; and the accuracy of the float32 activations and their derivatives against libm's long
// double erfc, exp and tanh.
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include <initializer_list>
#include <vector>

#include "check.h"
#include "fastdrop/math/bias_act_dropout.h"
#include "fastdrop/fastdrop.h"
#include "test_inputs.h"

using namespace fastdrop;

namespace {

struct Shape {
  int64_t rows, cols;
};

// The per-element definition for one activation tag: unit i's keep decision from its stream word.
template <class T, class Act>
void check_activation(fastdrop_activation activation, fastdrop_dtype dtype, const char* isa, int threads) {
  using C = typename ComputeType<T>::type;
  const Shape shapes[] = {{0, 5}, {1, 1}, {3, 7}, {37, 96}, {5, 1000}, {2, 8192 + 13}};
  const double ps[] = {0.0, 0.3, 1.0};
  for (const Shape& shape : shapes) {
    const int64_t n = shape.rows * shape.cols;
    // Offsets into larger buffers: the kernels must not assume aligned pointers.
    const std::vector<T> x = make_input<T>(n + 1), dy = make_input<T>(n + 3), b = make_input<T>(shape.cols + 5);
    for (double p : ps) {
      for (bool with_bias : {true, false}) {
        const T* bias = with_bias ? b.data() + 5 : nullptr;
        const uint64_t seed = 0x0123456789abcdefull, offset = static_cast<uint64_t>(n);
        std::vector<T> y(n), dx(n), dx_bits(n);
        std::vector<uint8_t> bits((n + 7) / 8);
        CHECK(fastdrop_bias_act_dropout_forward(activation, dtype, x.data() + 1, bias, y.data(), shape.rows,
                                                shape.cols, p, seed, offset, bits.data()) == FASTDROP_SUCCESS,
              "forward status");
        CHECK(fastdrop_bias_act_dropout_backward(activation, dtype, dy.data() + 3, x.data() + 1, bias, dx.data(),
                                                 shape.rows, shape.cols, p, seed, offset) == FASTDROP_SUCCESS,
              "backward status");
        CHECK(fastdrop_bias_act_dropout_backward_bits(activation, dtype, dy.data() + 3, x.data() + 1, bias,
                                                      dx_bits.data(), shape.rows, shape.cols, p,
                                                      bits.data()) == FASTDROP_SUCCESS,
              "backward bits status");
        const DropoutParams params = make_dropout_params(p, seed, offset);
        const C scale = scale_of(params, C{});
        const T zero = from_compute(C(0), T{});
        for (int64_t i = 0; i < n; ++i) {
          const bool keep = keeps(stream_lane(seed, offset, static_cast<uint64_t>(i)), params);
          const T bi = bias ? bias[i % shape.cols] : zero;
          const T want_y = bias_act_dropout_element(Act{}, x[1 + i], bi, keep, scale);
          const T want_dx = bias_act_dropout_grad_element(Act{}, dy[3 + i], x[1 + i], bi, keep, scale);
          CHECK(same_bits(y[i], want_y), "%s threads=%d act=%d dtype=%d %lldx%lld p=%g bias=%d element %lld forward",
                isa, threads, activation, dtype, (long long)shape.rows, (long long)shape.cols, p, with_bias,
                (long long)i);
          CHECK(same_bits(dx[i], want_dx), "%s act=%d dtype=%d element %lld backward", isa, activation, dtype,
                (long long)i);
          CHECK(same_bits(dx_bits[i], want_dx), "%s act=%d dtype=%d element %lld backward from bits", isa,
                activation, dtype, (long long)i);
          CHECK(((bits[i >> 3] >> (i & 7)) & 1) == keep, "%s bit %lld", isa, (long long)i);
        }
      }
    }
  }
}

template <class T>
void check_dtype(fastdrop_dtype dtype, const char* isa, int threads) {
  check_activation<T, Relu>(FASTDROP_ACTIVATION_RELU, dtype, isa, threads);
  check_activation<T, Gelu>(FASTDROP_ACTIVATION_GELU, dtype, isa, threads);
  check_activation<T, GeluTanh>(FASTDROP_ACTIVATION_GELU_TANH, dtype, isa, threads);
}

// In place: y == x forward, dx == dy backward.
void check_in_place() {
  std::vector<float> x = make_input<float>(1000), dy = make_input<float>(1000), want(1000);
  const std::vector<float> b = make_input<float>(10), x0 = x;
  CHECK(fastdrop_bias_act_dropout_backward(FASTDROP_ACTIVATION_GELU, FASTDROP_FLOAT32, dy.data(), x.data(), b.data(),
                                           want.data(), 100, 10, 0.3, 5, 6) == FASTDROP_SUCCESS, "status");
  CHECK(fastdrop_bias_act_dropout_backward(FASTDROP_ACTIVATION_GELU, FASTDROP_FLOAT32, dy.data(), x.data(), b.data(),
                                           dy.data(), 100, 10, 0.3, 5, 6) == FASTDROP_SUCCESS, "status");
  CHECK(memcmp(dy.data(), want.data(), sizeof(float) * 1000) == 0, "backward in place");
  CHECK(fastdrop_bias_act_dropout_forward(FASTDROP_ACTIVATION_GELU, FASTDROP_FLOAT32, x0.data(), b.data(), want.data(),
                                          100, 10, 0.3, 5, 6, nullptr) == FASTDROP_SUCCESS, "status");
  CHECK(fastdrop_bias_act_dropout_forward(FASTDROP_ACTIVATION_GELU, FASTDROP_FLOAT32, x.data(), b.data(), x.data(), 100,
                                          10, 0.3, 5, 6, nullptr) == FASTDROP_SUCCESS, "status");
  CHECK(memcmp(x.data(), want.data(), sizeof(float) * 1000) == 0, "forward in place");
}

void check_errors() {
  float x[4] = {1, 2, 3, 4}, y[4] = {};
  uint8_t bits[1] = {0xFF};
  const fastdrop_activation gelu = FASTDROP_ACTIVATION_GELU;
  CHECK(fastdrop_bias_act_dropout_forward(fastdrop_activation(3), FASTDROP_FLOAT32, x, nullptr, y, 2, 2, 0.5, 0, 0,
                                          bits) == FASTDROP_ERROR_INVALID_VALUE, "activation");
  CHECK(fastdrop_bias_act_dropout_forward(gelu, fastdrop_dtype(7), x, nullptr, y, 2, 2, 0.5, 0, 0, bits) ==
            FASTDROP_ERROR_UNSUPPORTED_DTYPE, "dtype");
  for (double p : {-0.1, 1.5, static_cast<double>(NAN)}) {
    CHECK(fastdrop_bias_act_dropout_forward(gelu, FASTDROP_FLOAT32, x, nullptr, y, 2, 2, p, 0, 0, bits) ==
              FASTDROP_ERROR_INVALID_VALUE, "p = %g", p);
    CHECK(fastdrop_bias_act_dropout_backward(gelu, FASTDROP_FLOAT32, x, x, nullptr, y, 2, 2, p, 0, 0) ==
              FASTDROP_ERROR_INVALID_VALUE, "backward p = %g", p);
  }
  CHECK(fastdrop_bias_act_dropout_forward(gelu, FASTDROP_FLOAT32, x, nullptr, y, -2, 2, 0.5, 0, 0, bits) ==
            FASTDROP_ERROR_INVALID_VALUE, "negative rows");
  CHECK(fastdrop_bias_act_dropout_forward(gelu, FASTDROP_FLOAT32, x, nullptr, y, 2, -2, 0.5, 0, 0, bits) ==
            FASTDROP_ERROR_INVALID_VALUE, "negative cols");
  CHECK(fastdrop_bias_act_dropout_forward(gelu, FASTDROP_FLOAT32, nullptr, nullptr, y, 2, 2, 0.5, 0, 0, bits) ==
            FASTDROP_ERROR_NULL_POINTER, "null x");
  CHECK(fastdrop_bias_act_dropout_backward(gelu, FASTDROP_FLOAT32, x, nullptr, nullptr, y, 2, 2, 0.5, 0, 0) ==
            FASTDROP_ERROR_NULL_POINTER, "null saved x");
  CHECK(fastdrop_bias_act_dropout_backward_bits(gelu, FASTDROP_FLOAT32, x, x, nullptr, y, 2, 2, 0.5, nullptr) ==
            FASTDROP_ERROR_NULL_POINTER, "null mask bits");
  CHECK(fastdrop_bias_act_dropout_forward(gelu, FASTDROP_FLOAT32, nullptr, nullptr, nullptr, 0, 3, 0.5, 0, 0,
                                          nullptr) == FASTDROP_SUCCESS, "empty call with null pointers");
  CHECK(y[0] == 0 && y[3] == 0 && bits[0] == 0xFF, "failed calls write nothing");
}

// ---- accuracy of the float32 activations -------------------------------------------------------

constexpr long double kPi = 3.141592653589793238462643383279502884L;

long double normal_cdf_ref(long double v) { return 0.5L * erfcl(-v / sqrtl(2.0L)); }
long double gelu_ref(long double v) { return v * normal_cdf_ref(v); }
long double gelu_grad_ref(long double v) { return normal_cdf_ref(v) + v * expl(-0.5L * v * v) / sqrtl(2 * kPi); }
// Of the float32 argument u as the kernel rounds it (PyTorch's order of operations): v sigmoid(2u).
long double gelu_tanh_ref(float v, float u) { return v / (1.0L + expl(-2.0L * u)); }
long double gelu_tanh_grad_ref(float v, float u) {
  const long double s = 1.0L / (1.0L + expl(-2.0L * u));
  return s + 2.0L * v * s * (1.0L - s) * sqrtl(2 / kPi) * (1.0L + 3.0L * 0.044715L * v * v);
}

// |got - want| in ulps of the float nearest `scale` (the size of the result, or of the terms whose
// sum it is when they cancel).
double ulps(float got, long double want, long double scale) {
  const float s = fabsf(static_cast<float>(scale));
  return static_cast<double>(fabsl(got - want) / (nextafterf(s, INFINITY) - s));
}

struct MaxError {
  double ulps = 0;
  float at = 0;
  void add(double e, float v) {
    if (e > ulps || e != e) ulps = e, at = v;
  }
};

// Every 4099th float32 of [-20, 20] by bit pattern (dense near 0, as floats are). gelu's results
// are checked down to v = -13, where Phi(v) leaves the normal floats, and its tanh form's where
// exp(-2 |u|) is a normal float (v > -9.9).
void check_accuracy() {
  MaxError exp_error, gelu_error, gelu_grad_error, tanh_error, tanh_error_right, tanh_grad_error;
  for (uint32_t bits = 0; bits <= float_as_u32(20.0f); bits += 4099) {
    for (const float v : {u32_as_float(bits), -u32_as_float(bits)}) {
      const float x = v * 5.0f;  // exp's own error over (-87, 88)
      if (x > -87.0f && x < 88.0f) exp_error.add(ulps(exp_sum(x, 0.0f), expl(x), expl(x)), x);
      if (v > -13.0f) {
        gelu_error.add(ulps(activate(Gelu{}, v), gelu_ref(v), gelu_ref(v)), v);
        // The gradient Phi + v phi crosses 0 near v = -0.75: its error is measured against its terms.
        const long double cdf = normal_cdf_ref(v), grad = gelu_grad_ref(v);
        gelu_grad_error.add(ulps(activate_grad(Gelu{}, v, 1.0f), grad, fabsl(cdf) + fabsl(grad - cdf)), v);
      }
      const float u = static_cast<float>(kGeluTanhBeta) * (v + static_cast<float>(kGeluTanhKappa) * (v * v * v));
      const long double tanh_want = gelu_tanh_ref(v, u);
      // Where exp(-2 |u|) and the result are normal floats.
      if (fabsf(u) < 43.6f && fabsl(tanh_want) > FLT_MIN) {
        const double e = ulps(activate(GeluTanh{}, v), tanh_want, tanh_want);
        tanh_error.add(e, v);
        if (v >= 0) tanh_error_right.add(e, v);
        const long double s = tanh_want / v, grad = gelu_tanh_grad_ref(v, u);
        tanh_grad_error.add(ulps(activate_grad(GeluTanh{}, v, 1.0f), grad, s + fabsl(grad - s)), v);
      }
    }
  }
  printf("float32 max error: exp %.2f ulp (at %g), gelu %.2f (at %g), its gradient %.2f (at %g)\n", exp_error.ulps,
         exp_error.at, gelu_error.ulps, gelu_error.at, gelu_grad_error.ulps, gelu_grad_error.at);
  printf("gelu tanh %.2f ulp (at %g; %.2f for v >= 0), its gradient %.2f (at %g), given its rounded argument\n",
         tanh_error.ulps, tanh_error.at, tanh_error_right.ulps, tanh_grad_error.ulps, tanh_grad_error.at);
  // The bounds that fastdrop/math/bias_act_dropout.h and fastdrop.h state, measured over every float32 |v| < 20.
  CHECK(exp_error.ulps <= 1.5, "exp error %.2f ulp", exp_error.ulps);
  CHECK(gelu_error.ulps <= 7.0 && gelu_grad_error.ulps <= 7.0, "gelu error %.2f, gradient %.2f ulp", gelu_error.ulps,
        gelu_grad_error.ulps);
  CHECK(tanh_error.ulps <= 4.0 && tanh_grad_error.ulps <= 7.5, "gelu tanh error %.2f, gradient %.2f ulp",
        tanh_error.ulps, tanh_grad_error.ulps);
}

}  // namespace

int main() {
  check_errors();
  check_in_place();
  check_accuracy();
  for_each_isa_and_thread_count([](const char* name, int threads) {
    check_dtype<float16_bits>(FASTDROP_FLOAT16, name, threads);
    check_dtype<bfloat16_bits>(FASTDROP_BFLOAT16, name, threads);
    check_dtype<float>(FASTDROP_FLOAT32, name, threads);
    check_dtype<double>(FASTDROP_FLOAT64, name, threads);
  });
  return finish("bias_act_dropout");
}
