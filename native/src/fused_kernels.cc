// The elementwise loops of the fused ops (see fused_kernels.h). No libtorch here. float32 runs
// 8 lanes at a time in GCC/Clang vector types (the compiler does not vectorise an exp with
// selects in it by itself); with GCC on x86-64 each function is built twice, for x86-64-v3
// (AVX2 + FMA) and for the baseline, and the loader picks one per machine (target_clones).
// float64 (tests, gradchecks) uses plain loops and the C library's exp.
#include "fused_kernels.h"

#include <cmath>
#include <cstring>

// The 8-lane helpers below are always inlined (static, never an ABI boundary): GCC's note that
// passing 32-byte vectors without AVX changes the ABI does not apply.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
#if defined(__GNUC__)
#define TVS_INLINE inline __attribute__((always_inline))
#else
#define TVS_INLINE inline
#endif

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define TVS_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define TVS_CLONES
#endif

namespace tvs {
namespace kernels {
namespace {

// 1.702 rounded to each type, as ATen rounds the Python scalar of x * sigmoid(1.702 * x).
constexpr float kQuickGeluAlpha = 1.702f;
constexpr double kQuickGeluAlphaD = 1.702;

using V = float __attribute__((vector_size(32)));    // 8 floats
using VI = int32_t __attribute__((vector_size(32)));  // 8 ints
constexpr int64_t kLanes = 8;

TVS_INLINE V Load(const float* p) {
  V v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
TVS_INLINE void Store(float* p, V v) { std::memcpy(p, &v, sizeof v); }
TVS_INLINE V Splat(float f) { return V{f, f, f, f, f, f, f, f}; }
TVS_INLINE V Max(V a, V b) { return a > b ? a : b; }
TVS_INLINE float Max8(V v) {
  float m = v[0];
  for (int k = 1; k < kLanes; k++) m = v[k] > m ? v[k] : m;
  return m;
}
TVS_INLINE float Sum8(V v) { return ((v[0] + v[1]) + (v[2] + v[3])) + ((v[4] + v[5]) + (v[6] + v[7])); }

// exp for float32, Cephes' expf: range reduction by ln 2 in two parts, a degree-6 polynomial,
// the power of two built in the exponent bits. About 1 ulp over [-87, 88]; beyond, inf above
// 88.72 (where expf overflows) and 0 below -87.34 (where it is subnormal), so that
// 1 / (1 + exp(-z)) saturates to exactly 0 and 1 as libtorch's sigmoid does.
TVS_INLINE V Exp8(V xo) {
  const V lo = Splat(-87.0f), hi = Splat(88.0f);
  V x = xo < lo ? lo : xo;
  x = x > hi ? hi : x;
  const V fx = x * Splat(1.44269504088896341f) + Splat(0.5f);
  V nf = __builtin_convertvector(__builtin_convertvector(fx, VI), V);  // truncation...
  nf = nf > fx ? nf - Splat(1.0f) : nf;                                // ...corrected to floor
  const V r = (x - nf * Splat(0.693359375f)) + nf * Splat(2.12194440e-4f);
  V p = Splat(1.9875691500e-4f);
  p = p * r + Splat(1.3981999507e-3f);
  p = p * r + Splat(8.3334519073e-3f);
  p = p * r + Splat(4.1665795894e-2f);
  p = p * r + Splat(1.6666665459e-1f);
  p = p * r + Splat(5.0000001201e-1f);
  const V y = p * r * r + r + Splat(1.0f);
  const VI bits = (__builtin_convertvector(nf, VI) + 127) << 23;
  V two;
  std::memcpy(&two, &bits, sizeof two);
  V e = y * two;
  e = xo > Splat(88.7228f) ? Splat(HUGE_VALF) : e;
  e = xo < Splat(-87.3365f) ? Splat(0.0f) : e;
  return e;
}

// The same function one element at a time (row tails).
TVS_INLINE float Exp1(float x) {
  float in[kLanes] = {x, 0, 0, 0, 0, 0, 0, 0};
  return Exp8(Load(in))[0];
}

TVS_INLINE V Sigmoid8(V z) { return Splat(1.0f) / (Splat(1.0f) + Exp8(-z)); }
TVS_INLINE float Sigmoid1(float z) { return 1.0f / (1.0f + Exp1(-z)); }
TVS_INLINE double SigmoidD(double z) { return 1.0 / (1.0 + std::exp(-z)); }

}  // namespace

TVS_CLONES void QuickGeluForward(float* h, const float* bias, float* y, int64_t n) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    V u = Load(h + i);
    if (bias != nullptr) {
      u += Load(bias + i);
      Store(h + i, u);
    }
    Store(y + i, u * Sigmoid8(Splat(kQuickGeluAlpha) * u));
  }
  for (; i < n; i++) {
    const float u = bias != nullptr ? h[i] + bias[i] : h[i];
    h[i] = u;
    y[i] = u * Sigmoid1(kQuickGeluAlpha * u);
  }
}

void QuickGeluForward(double* h, const double* bias, double* y, int64_t n) {
  for (int64_t i = 0; i < n; i++) {
    const double u = bias != nullptr ? h[i] + bias[i] : h[i];
    h[i] = u;
    y[i] = u * SigmoidD(kQuickGeluAlphaD * u);
  }
}

TVS_CLONES void QuickGeluBackward(const float* u, const float* g, float* du, int64_t n) {
  const V a = Splat(kQuickGeluAlpha), one = Splat(1.0f);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const V x = Load(u + i);
    const V s = Sigmoid8(a * x);
    Store(du + i, Load(g + i) * (s + a * x * s * (one - s)));
  }
  for (; i < n; i++) {
    const float s = Sigmoid1(kQuickGeluAlpha * u[i]);
    du[i] = g[i] * (s + kQuickGeluAlpha * u[i] * s * (1.0f - s));
  }
}

void QuickGeluBackward(const double* u, const double* g, double* du, int64_t n) {
  const double a = kQuickGeluAlphaD;
  for (int64_t i = 0; i < n; i++) {
    const double s = SigmoidD(a * u[i]);
    du[i] = g[i] * (s + a * u[i] * s * (1.0 - s));
  }
}

TVS_CLONES void SoftmaxRow(float* x, int64_t n) {
  int64_t i = 0;
  float m = -HUGE_VALF;
  if (n >= kLanes) {
    V mv = Load(x);
    for (i = kLanes; i + kLanes <= n; i += kLanes) mv = Max(mv, Load(x + i));
    m = Max8(mv);
  }
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  V sv = Splat(0.0f);
  const V mv = Splat(m);
  for (i = 0; i + kLanes <= n; i += kLanes) {
    const V e = Exp8(Load(x + i) - mv);
    Store(x + i, e);
    sv += e;
  }
  float s = Sum8(sv);
  for (; i < n; i++) {
    x[i] = Exp1(x[i] - m);
    s += x[i];
  }
  const float inv = 1.0f / s;
  const V iv = Splat(inv);
  for (i = 0; i + kLanes <= n; i += kLanes) Store(x + i, Load(x + i) * iv);
  for (; i < n; i++) x[i] *= inv;
}

void SoftmaxRow(double* x, int64_t n) {
  double m = -HUGE_VAL;
  for (int64_t i = 0; i < n; i++) m = x[i] > m ? x[i] : m;
  double s = 0;
  for (int64_t i = 0; i < n; i++) {
    x[i] = std::exp(x[i] - m);
    s += x[i];
  }
  const double inv = 1.0 / s;
  for (int64_t i = 0; i < n; i++) x[i] *= inv;
}

TVS_CLONES void SoftmaxRowBackward(const float* p, float* dp, float scale, int64_t n) {
  V cv8 = Splat(0.0f);
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) cv8 += Load(p + i) * Load(dp + i);
  float c = Sum8(cv8);
  for (; i < n; i++) c += p[i] * dp[i];
  const V cv = Splat(c), sv = Splat(scale);
  for (i = 0; i + kLanes <= n; i += kLanes) Store(dp + i, sv * Load(p + i) * (Load(dp + i) - cv));
  for (; i < n; i++) dp[i] = scale * p[i] * (dp[i] - c);
}

void SoftmaxRowBackward(const double* p, double* dp, double scale, int64_t n) {
  double c = 0;
  for (int64_t i = 0; i < n; i++) c += p[i] * dp[i];
  for (int64_t i = 0; i < n; i++) dp[i] = scale * p[i] * (dp[i] - c);
}

// 8 lanes at a time; sqrt lane by lane, which the compiler turns into one vector square root
// (the addon is built with -fno-math-errno).
TVS_CLONES void AdamWStep(float* p, const float* g, float* m, float* v, int64_t n, float decay, float beta1, float oneMinusBeta1, float beta2,
                          float oneMinusBeta2, float bc2Sqrt, float eps, float stepSize) {
  int64_t i = 0;
  for (; i + kLanes <= n; i += kLanes) {
    const V gi = Load(g + i);
    const V mi = Load(m + i) * Splat(beta1) + gi * Splat(oneMinusBeta1);
    const V vi = Load(v + i) * Splat(beta2) + gi * gi * Splat(oneMinusBeta2);
    V root;
    for (int k = 0; k < kLanes; k++) root[k] = __builtin_sqrtf(vi[k]);
    const V denom = root / Splat(bc2Sqrt) + Splat(eps);
    Store(p + i, Load(p + i) * Splat(decay) - Splat(stepSize) * (mi / denom));
    Store(m + i, mi);
    Store(v + i, vi);
  }
  for (; i < n; i++) {
    m[i] = m[i] * beta1 + g[i] * oneMinusBeta1;
    v[i] = v[i] * beta2 + g[i] * g[i] * oneMinusBeta2;
    p[i] = p[i] * decay - stepSize * (m[i] / (__builtin_sqrtf(v[i]) / bc2Sqrt + eps));
  }
}

void AdamWStep(double* p, const double* g, double* m, double* v, int64_t n, double decay, double beta1, double oneMinusBeta1, double beta2,
               double oneMinusBeta2, double bc2Sqrt, double eps, double stepSize) {
  for (int64_t i = 0; i < n; i++) {
    m[i] = m[i] * beta1 + g[i] * oneMinusBeta1;
    v[i] = v[i] * beta2 + g[i] * g[i] * oneMinusBeta2;
    p[i] = p[i] * decay - stepSize * (m[i] / (std::sqrt(v[i]) / bc2Sqrt + eps));
  }
}

}  // namespace kernels
}  // namespace tvs
