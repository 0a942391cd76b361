// Elementwise loops of the fused ops (fused.cc), written so that the compiler vectorises them:
// on x86-64 with GCC each is built twice, for AVX2+FMA and for the baseline, and the loader
// picks one per machine (target_clones). float32 uses a Cephes-style exp (about 1 ulp), double
// the C library's. Rows are independent: callers split them across threads.
#pragma once

#include <cstdint>

namespace tvs {
namespace kernels {

// QuickGELU (CLIP): y = u * sigmoid(1.702 u). Forward over n columns of one row: u = h + bias
// (bias may be null; u written over h), y = quick_gelu(u).
void QuickGeluForward(float* h, const float* bias, float* y, int64_t n);
void QuickGeluForward(double* h, const double* bias, double* y, int64_t n);

// Backward: du = g * (s + 1.702 u s (1 - s)), s = sigmoid(1.702 u), written to du (may alias g).
void QuickGeluBackward(const float* u, const float* g, float* du, int64_t n);
void QuickGeluBackward(const double* u, const double* g, double* du, int64_t n);

// Softmax of one row in place: x = exp(x - max) / sum.
void SoftmaxRow(float* x, int64_t n);
void SoftmaxRow(double* x, int64_t n);

// Softmax backward of one row, scaled: ds = scale * p * (dp - sum_j p_j dp_j), written over dp.
void SoftmaxRowBackward(const float* p, float* dp, float scale, int64_t n);
void SoftmaxRowBackward(const double* p, double* dp, double scale, int64_t n);

// One AdamW step over n elements, torch.optim.AdamW's arithmetic in one pass (its op order: decay
// p by decay, m = beta1 m + (1 - beta1) g, v = beta2 v + (1 - beta2) g^2, p -= stepSize m /
// (sqrt(v) / bc2Sqrt + eps)). The scalars are the ones ATen would use for the tensor's type.
void AdamWStep(float* p, const float* g, float* m, float* v, int64_t n, float decay, float beta1, float oneMinusBeta1, float beta2,
               float oneMinusBeta2, float bc2Sqrt, float eps, float stepSize);
void AdamWStep(double* p, const double* g, double* m, double* v, int64_t n, double decay, double beta1, double oneMinusBeta1, double beta2,
               double oneMinusBeta2, double bc2Sqrt, double eps, double stepSize);

}  // namespace kernels
}  // namespace tvs
