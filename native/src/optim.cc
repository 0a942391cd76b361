// Optimizer steps fused into one pass per tensor. torch.optim.AdamW's single-tensor step is nine
// elementwise passes over a parameter's size (decay, two each for the moments, sqrt, div, add,
// addcdiv); with the 94M trainable parameters of SharedAttn d9 they are a visible part of a step.
#include "common.h"

#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <cmath>

#include "fused_kernels.h"

namespace tvs {

// adamwStep_(p, grad, exp_avg, exp_avg_sq, lr, beta1, beta2, eps, weightDecay, step): one AdamW
// step (amsgrad off) in place, as torch.optim.AdamW computes it. One fused pass for contiguous
// float32/float64 CPU tensors; ATen's ops in the same order otherwise (CUDA, other layouts).
TVS_FN(adamwStep_) {
  TVS_PROTECT("adamwStep_", {
    auto& p = T(info, 0);
    auto& g = T(info, 1);
    auto& m = T(info, 2);
    auto& v = T(info, 3);
    const double lr = F64(info, 4), b1 = F64(info, 5), b2 = F64(info, 6), eps = F64(info, 7), wd = F64(info, 8);
    const int64_t step = I64(info, 9);
    if (step < 1) throw ArgError("step must be >= 1, got " + std::to_string(step));
    if (g.sizes() != p.sizes() || m.sizes() != p.sizes() || v.sizes() != p.sizes())
      throw ArgError("parameter, gradient and moments must have one shape, got " + c10::str(p.sizes()) + ", " + c10::str(g.sizes()) + ", " +
                     c10::str(m.sizes()) + ", " + c10::str(v.sizes()));
    c10::NoGradGuard noGrad;
    const double bc1 = 1 - std::pow(b1, static_cast<double>(step)), bc2 = 1 - std::pow(b2, static_cast<double>(step));
    const double stepSize = lr / bc1, bc2Sqrt = std::sqrt(bc2), decay = 1 - lr * wd;
    const auto dt = p.scalar_type();
    const bool fused = p.is_cpu() && (dt == at::kFloat || dt == at::kDouble) && g.scalar_type() == dt && m.scalar_type() == dt &&
                       v.scalar_type() == dt && g.device() == p.device() && m.device() == p.device() && v.device() == p.device() &&
                       p.is_contiguous() && g.is_contiguous() && m.is_contiguous() && v.is_contiguous();
    if (!fused) {
      if (wd != 0) p.mul_(decay);
      m.mul_(b1).add_(g, 1 - b1);
      v.mul_(b2).addcmul_(g, g, 1 - b2);
      auto denom = v.sqrt();
      denom.div_(bc2Sqrt).add_(eps);
      p.addcdiv_(m, denom, -stepSize);
      return info.Env().Undefined();
    }
    const int64_t n = p.numel();
    AT_DISPATCH_FLOATING_TYPES(dt, "adamwStep_", [&] {
      using S = scalar_t;
      S* pp = p.data_ptr<S>();
      const S* gp = g.data_ptr<S>();
      S* mp = m.data_ptr<S>();
      S* vp = v.data_ptr<S>();
      // The scalars as ATen rounds them for the tensor's type (decay 1 exactly when wd is 0).
      const S sDecay = wd != 0 ? static_cast<S>(decay) : S(1);
      at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) {
        kernels::AdamWStep(pp + begin, gp + begin, mp + begin, vp + begin, end - begin, sDecay, static_cast<S>(b1), static_cast<S>(1 - b1),
                           static_cast<S>(b2), static_cast<S>(1 - b2), static_cast<S>(bc2Sqrt), static_cast<S>(eps), static_cast<S>(stepSize));
      });
    });
    // Written through raw pointers: bump the version counters as in-place ATen ops would.
    for (auto* t : {&p, &m, &v}) t->unsafeGetTensorImpl()->bump_version();
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}

void InitOptim(Napi::Env env, Napi::Object exports) { TVS_EXPORT(adamwStep_); }

}  // namespace tvs
