// Fused ops of the transformer hot path, each one autograd node with a hand-written backward:
//  - attention(q, k, v, heads, scale, bias?): softmax(q kᵀ · scale + bias) v on [B, S, D]
//    projections, heads read in place through strided views (no transposed copies), the
//    probabilities normalised in place, and a backward that takes the softmax's row sums from
//    dO·O (flash-attention's identity) with the scale folded into the same pass;
//  - linearQuickGelu(x, W, b?): CLIP's fc1 + quick_gelu, the bias added in the activation's pass
//    instead of a broadcast copy before the GEMM, one elementwise pass forward and one backward
//    (the unfused composition makes 3 forward and 5 backward passes over [tokens, 4 D]);
//  - quickGelu(x): the same activation without the matrix product.
// Each runs fused for float32/float64 CPU tensors outside autocast and falls back to the unfused
// composition otherwise (CUDA included: it has its own fused kernels), so callers need not choose. libtorch's
// custom autograd Function API is the same in 1.13 and 2.x.
#include "common.h"

#include <ATen/Parallel.h>
#include <ATen/record_function.h>
#include <torch/csrc/autograd/custom_function.h>

#include <ATen/core/grad_mode.h>

#include <algorithm>
#include <climits>
#include <memory>
#include <cmath>
#include <cstdint>
#include <vector>

#if defined(__linux__)
#include <dlfcn.h>
#endif

#include "fused_kernels.h"

namespace tvs {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

constexpr double kQuickGeluAlpha = 1.702;

bool FusableDtype(const at::Tensor& t) { return t.scalar_type() == at::kFloat || t.scalar_type() == at::kDouble; }

// Rows of a [rows, n] contiguous buffer split across libtorch's threads (~32K elements a task).
template <typename F>
void ForRows(int64_t rows, int64_t n, const F& f) {
  const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(n, 1));
  at::parallel_for(0, rows, grain, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; r++) f(r);
  });
}

// -------------------------------------------------------------------------------- quick_gelu

at::Tensor QuickGeluComposed(const at::Tensor& x) { return x * at::sigmoid(x * kQuickGeluAlpha); }

// u = h + bias over rows of h [rows, n] (in place), y = quick_gelu(u); with inPlace, y is
// written over h as well (no backward needs u).
at::Tensor QuickGeluRows(at::Tensor& h, const at::Tensor& bias, bool inPlace = false) {
  auto y = inPlace ? h : at::empty_like(h);
  const int64_t n = h.size(-1), rows = h.numel() / std::max<int64_t>(n, 1);
  AT_DISPATCH_FLOATING_TYPES(h.scalar_type(), "quickGelu", [&] {
    scalar_t* hp = h.data_ptr<scalar_t>();
    scalar_t* yp = y.data_ptr<scalar_t>();
    const scalar_t* bp = bias.defined() ? bias.data_ptr<scalar_t>() : nullptr;
    ForRows(rows, n, [&](int64_t r) { kernels::QuickGeluForward(hp + r * n, bp, yp + r * n, n); });
  });
  return y;
}

at::Tensor QuickGeluGradRows(const at::Tensor& u, const at::Tensor& g) {
  auto gc = g.contiguous();
  auto du = at::empty_like(u);
  const int64_t n = u.size(-1), rows = u.numel() / std::max<int64_t>(n, 1);
  AT_DISPATCH_FLOATING_TYPES(u.scalar_type(), "quickGeluBackward", [&] {
    const scalar_t* up = u.data_ptr<scalar_t>();
    const scalar_t* gp = gc.data_ptr<scalar_t>();
    scalar_t* dp = du.data_ptr<scalar_t>();
    ForRows(rows, n, [&](int64_t r) { kernels::QuickGeluBackward(up + r * n, gp + r * n, dp + r * n, n); });
  });
  return du;
}

struct QuickGeluFn : torch::autograd::Function<QuickGeluFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x) {
    at::RecordFunction guard(at::RecordScope::FUNCTION);
    if (guard.isActive()) guard.before("tvs::quick_gelu");
    auto u = x.contiguous();
    // QuickGeluRows writes u + bias over its input; without a bias that leaves u unchanged.
    auto y = QuickGeluRows(u, at::Tensor());
    ctx->save_for_backward({u});
    return y;
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::RecordFunction guard(at::RecordScope::FUNCTION);
    if (guard.isActive()) guard.before("tvs::quick_gelu_backward");
    auto u = ctx->get_saved_variables()[0];
    return {QuickGeluGradRows(u, grads[0])};
  }
};

// fc1 + quick_gelu: x [..., K], W [N, K], b [N] or undefined -> [..., N].
struct LinearQuickGeluFn : torch::autograd::Function<LinearQuickGeluFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& bias) {
    at::RecordFunction guard(at::RecordScope::FUNCTION);
    if (guard.isActive()) guard.before("tvs::linear_quick_gelu");
    const int64_t K = x.size(-1), N = w.size(0);
    const at::Tensor b = bias ? *bias : at::Tensor();
    auto x2 = x.reshape({-1, K});
    auto u = at::mm(x2, w.t());                    // [M, N]; becomes u = x Wᵀ + b below
    auto y = QuickGeluRows(u, b.defined() ? b.contiguous() : b);
    ctx->save_for_backward({x2, w, u});
    ctx->saved_data["has_bias"] = b.defined();
    auto shape = x.sizes().vec();
    shape.back() = N;
    return y.view(shape);
  }
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    at::RecordFunction guard(at::RecordScope::FUNCTION);
    if (guard.isActive()) guard.before("tvs::linear_quick_gelu_backward");
    auto saved = ctx->get_saved_variables();
    auto& x2 = saved[0];
    auto& w = saved[1];
    auto& u = saved[2];
    const int64_t N = w.size(0);
    auto du = QuickGeluGradRows(u, grads[0].reshape({-1, N}));
    at::Tensor dx, dw, db;
    if (ctx->needs_input_grad(0)) {
      auto shape = grads[0].sizes().vec();
      shape.back() = x2.size(1);
      dx = at::mm(du, w).view(shape);
    }
    if (ctx->needs_input_grad(1)) dw = at::mm(du.t(), x2);
    // (an absent bias has no input edge: ask only when there is one)
    if (ctx->saved_data["has_bias"].toBool() && ctx->needs_input_grad(2)) db = du.sum(0);
    return {dx, dw, db};
  }
};

// --------------------------------------------------------------------------------- attention
//
// Per (batch, head) the products are small (S x Dh x T with Dh = 64): ATen's bmm hands each to
// the BLAS one after the other and OpenBLAS splits every one of them across its threads, paying
// a thread handoff per product. Here each thread takes whole heads instead (scores, softmax and
// the product with v while the head's S x T block is still in cache) and calls the BLAS with one
// thread. That needs the BLAS's own symbols and OpenBLAS's thread control; without them (e.g. an
// MKL build of libtorch) the op runs the ATen composition.

struct Blas {
  using Sgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const float*, const float*, const int*,
                         const float*, const int*, const float*, float*, const int*);
  using Dgemm = void (*)(const char*, const char*, const int*, const int*, const int*, const double*, const double*, const int*,
                         const double*, const int*, const double*, double*, const int*);
  Sgemm sgemm = nullptr;
  Dgemm dgemm = nullptr;
  void (*setThreads)(int) = nullptr;
  int (*getThreads)() = nullptr;
  bool usable() const { return sgemm && dgemm && setThreads && getThreads; }
  static const Blas& get() {
    static const Blas b = [] {
      Blas r;
#if defined(__linux__)
      // The BLAS libtorch loaded (Debian's libtorch links libblas.so.3 -> OpenBLAS; LP64 interface).
      r.sgemm = reinterpret_cast<Sgemm>(dlsym(RTLD_DEFAULT, "sgemm_"));
      r.dgemm = reinterpret_cast<Dgemm>(dlsym(RTLD_DEFAULT, "dgemm_"));
      r.setThreads = reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"));
      r.getThreads = reinterpret_cast<int (*)()>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
#endif
      return r;
    }();
    return b;
  }
};

// OpenBLAS on one thread while ours split the heads; its thread count restored on every exit.
class BlasOneThread {
 public:
  explicit BlasOneThread(const Blas& b) : b_(b), prev_(b.getThreads()) {
    if (prev_ != 1) b_.setThreads(1);
  }
  ~BlasOneThread() {
    if (prev_ != 1) b_.setThreads(prev_);
  }
  BlasOneThread(const BlasOneThread&) = delete;
  BlasOneThread& operator=(const BlasOneThread&) = delete;

 private:
  const Blas& b_;
  int prev_;
};

// Row-major C[M x N] = A' B' (A' = A or Aᵀ, B' = B or Bᵀ; leading dimensions are row strides):
// the column-major BLAS computes Cᵀ = B'ᵀ A'ᵀ.
void RowGemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda, const float* B, int64_t ldb, float* C, int64_t ldc) {
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K), la = static_cast<int>(ldb), lb = static_cast<int>(lda), lc = static_cast<int>(ldc);
  const float one = 1, zero = 0;
  Blas::get().sgemm(tb ? "T" : "N", ta ? "T" : "N", &m, &n, &k, &one, B, &la, A, &lb, &zero, C, &lc);
}
void RowGemm(bool ta, bool tb, int64_t M, int64_t N, int64_t K, const double* A, int64_t lda, const double* B, int64_t ldb, double* C, int64_t ldc) {
  const int m = static_cast<int>(N), n = static_cast<int>(M), k = static_cast<int>(K), la = static_cast<int>(ldb), lb = static_cast<int>(lda), lc = static_cast<int>(ldc);
  const double one = 1, zero = 0;
  Blas::get().dgemm(tb ? "T" : "N", ta ? "T" : "N", &m, &n, &k, &one, B, &la, A, &lb, &zero, C, &lc);
}

struct AttnDims {
  int64_t B, H, S, T, D, Dh;
};

// An additive bias expanded to [B, H, S, T] (strides 0 where it broadcasts).
template <typename T>
struct BiasView {
  const T* data = nullptr;
  int64_t sb = 0, sh = 0, si = 0, sj = 0;
};

// Every (batch, head) on libtorch's threads, OpenBLAS on one thread inside; f(b, h, scratch)
// gets an uninitialised S x T block of its thread's own.
template <typename T, typename F>
void ForHeads(const AttnDims& d, const F& f) {
  BlasOneThread one(Blas::get());
  at::parallel_for(0, d.B * d.H, 1, [&](int64_t begin, int64_t end) {
    std::unique_ptr<T[]> scratch(new T[d.S * d.T]);
    for (int64_t j = begin; j < end; j++) f(j / d.H, j % d.H, scratch.get());
  });
}

// out[b, :, h] = softmax(qs_bh k_bhᵀ + bias) v_bh for every head; the probabilities go to
// probs [B, H, S, T] when given (for the backward), else to a per-head scratch block.
template <typename T>
void AttentionForwardHeads(const AttnDims& d, const T* qs, const T* k, const T* v, const BiasView<T>& bias, T* probs, T* out) {
  ForHeads<T>(d, [&](int64_t b, int64_t h, T* scratch) {
    T* p = probs ? probs + (b * d.H + h) * d.S * d.T : scratch;
    const int64_t qo = b * d.S * d.D + h * d.Dh, ko = b * d.T * d.D + h * d.Dh;
    RowGemm(false, true, d.S, d.T, d.Dh, qs + qo, d.D, k + ko, d.D, p, d.T);  // scores = qs kᵀ
    for (int64_t i = 0; i < d.S; i++) {
      T* row = p + i * d.T;
      if (bias.data) {
        const T* br = bias.data + b * bias.sb + h * bias.sh + i * bias.si;
        for (int64_t j = 0; j < d.T; j++) row[j] += br[j * bias.sj];
      }
      kernels::SoftmaxRow(row, d.T);
    }
    RowGemm(false, false, d.S, d.Dh, d.T, p, d.T, v + ko, d.D, out + qo, d.D);  // out = p v
  });
}

// Gradients of every head: with dp = dO vᵀ and ds = scale * p * (dp - sum_j p_j dp_j) (libtorch's
// softmax backward, the row sum taken the same way): dq = ds k, dk = dsᵀ q (q unscaled: the scale
// is in ds), dv = pᵀ dO.
template <typename T>
void AttentionBackwardHeads(const AttnDims& d, T scale, const T* q, const T* k, const T* v, const T* probs, const T* dout, T* dq, T* dk, T* dv) {
  ForHeads<T>(d, [&](int64_t b, int64_t h, T* ds) {
    const T* p = probs + (b * d.H + h) * d.S * d.T;
    const int64_t qo = b * d.S * d.D + h * d.Dh, ko = b * d.T * d.D + h * d.Dh;
    if (dv) RowGemm(true, false, d.T, d.Dh, d.S, p, d.T, dout + qo, d.D, dv + ko, d.D);
    if (!dq && !dk) return;
    RowGemm(false, true, d.S, d.T, d.Dh, dout + qo, d.D, v + ko, d.D, ds, d.T);  // dp = dO vᵀ
    for (int64_t i = 0; i < d.S; i++) kernels::SoftmaxRowBackward(p + i * d.T, ds + i * d.T, scale, d.T);
    if (dq) RowGemm(false, false, d.S, d.Dh, d.T, ds, d.T, k + ko, d.D, dq + qo, d.D);
    if (dk) RowGemm(true, false, d.T, d.Dh, d.S, ds, d.T, q + qo, d.D, dk + ko, d.D);
  });
}

AttnDims DimsOf(const at::Tensor& q, const at::Tensor& k, int64_t H) {
  return {q.size(0), H, q.size(1), k.size(1), q.size(2), q.size(2) / H};
}

template <typename T>
BiasView<T> ViewOf(const at::Tensor& expanded) {
  if (!expanded.defined()) return {};
  return {expanded.data_ptr<T>(), expanded.stride(0), expanded.stride(1), expanded.stride(2), expanded.stride(3)};
}

// The forward on contiguous q, k, v; probs undefined = not kept (no backward will run).
at::Tensor AttentionForward(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, const at::Tensor& bias, int64_t H, double scale,
                            at::Tensor* probsOut) {
  const auto d = DimsOf(q, k, H);
  auto qs = (q * scale).contiguous();  // scaled before the product, as HF's CLIPAttention (same rounding)
  auto out = at::empty({d.B, d.S, d.D}, q.options());
  at::Tensor probs = probsOut ? at::empty({d.B, d.H, d.S, d.T}, q.options()) : at::Tensor();
  const at::Tensor be = bias.defined() ? bias.expand({d.B, d.H, d.S, d.T}) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "attention", [&] {
    AttentionForwardHeads<scalar_t>(d, qs.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(), ViewOf<scalar_t>(be),
                                    probs.defined() ? probs.data_ptr<scalar_t>() : nullptr, out.data_ptr<scalar_t>());
  });
  if (probsOut) *probsOut = probs;
  return out;
}

at::Tensor AttentionComposed(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, int64_t H, double scale,
                             const at::Tensor& bias) {
  const int64_t B = q.size(0), S = q.size(1), T = k.size(1), D = q.size(2), Dh = D / H;
  auto heads = [&](const at::Tensor& t, int64_t len) { return t.view({B, len, H, Dh}).transpose(1, 2); };
  auto scores = at::matmul(heads(q * scale, S), heads(k, T).transpose(2, 3));
  if (bias.defined()) scores = scores + bias;
  return at::matmul(at::softmax(scores, -1), heads(v, T)).transpose(1, 2).reshape({B, S, D});
}

// A profiler range for the fused attention with q, k and the head count as its inputs, so that
// an observer (native/src/profile.cc) can count the products' FLOPs it runs inside.
class RecordAttention {
 public:
  RecordAttention(const char* name, const at::Tensor& q, const at::Tensor& k, int64_t H) : guard_(at::RecordScope::FUNCTION) {
    if (!guard_.isActive()) return;
    if (guard_.needsInputs()) {
      inputs_ = {q, k, c10::IValue(H)};
      guard_.before(name, c10::ArrayRef<const c10::IValue>(inputs_.data(), inputs_.size()));
    } else {
      guard_.before(name);
    }
  }

 private:
  std::vector<c10::IValue> inputs_;  // declared before the guard: alive until its end callbacks ran
  at::RecordFunction guard_;
};

struct AttentionFn : torch::autograd::Function<AttentionFn> {
  // q [B, S, D], k and v [B, T, D] (contiguous; heads side by side in D), bias broadcastable to
  // [B, H, S, T] and needing no gradient. Returns [B, S, D]; saves q, k, v and the probabilities
  // [B, H, S, T].
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                            const c10::optional<at::Tensor>& bias, int64_t H, double scale) {
    RecordAttention guard("tvs::attention", q, k, H);
    at::Tensor probs;
    auto out = AttentionForward(q, k, v, bias ? *bias : at::Tensor(), H, scale, &probs);
    ctx->save_for_backward({q, k, v, probs});
    ctx->saved_data["heads"] = H;
    ctx->saved_data["scale"] = scale;
    return out;
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    auto saved = ctx->get_saved_variables();
    auto &q = saved[0], &k = saved[1], &v = saved[2], &probs = saved[3];
    RecordAttention guard("tvs::attention_backward", q, k, ctx->saved_data["heads"].toInt());
    const auto d = DimsOf(q, k, ctx->saved_data["heads"].toInt());
    const double scale = ctx->saved_data["scale"].toDouble();
    auto dout = grads[0].contiguous();
    at::Tensor dq = ctx->needs_input_grad(0) ? at::empty_like(q) : at::Tensor();
    at::Tensor dk = ctx->needs_input_grad(1) ? at::empty_like(k) : at::Tensor();
    at::Tensor dv = ctx->needs_input_grad(2) ? at::empty_like(v) : at::Tensor();
    AT_DISPATCH_FLOATING_TYPES(q.scalar_type(), "attentionBackward", [&] {
      auto ptr = [](at::Tensor& t) { return t.defined() ? t.data_ptr<scalar_t>() : nullptr; };
      AttentionBackwardHeads<scalar_t>(d, static_cast<scalar_t>(scale), q.data_ptr<scalar_t>(), k.data_ptr<scalar_t>(), v.data_ptr<scalar_t>(),
                                       probs.data_ptr<scalar_t>(), dout.data_ptr<scalar_t>(), ptr(dq), ptr(dk), ptr(dv));
    });
    return {dq, dk, dv, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

// attention(q, k, v, numHeads, scale, bias?) -> [B, S, D]: multi-head softmax(q kᵀ · scale + bias) v
// with q [B, S, D], k and v [B, T, D] (heads side by side), bias additive and broadcastable to
// [B, H, S, T]. Fused when the inputs are float32/float64 CPU tensors outside autocast and the bias needs no
// gradient; the unfused composition otherwise (same results up to rounding).
TVS_FN(attention) {
  auto env = info.Env();
  TVS_PROTECT("attention", {
    auto& q = T(info, 0);
    auto& k = T(info, 1);
    auto& v = T(info, 2);
    const int64_t H = I64(info, 3);
    const double scale = F64(info, 4);
    auto biasOpt = OptT(info, 5);
    at::Tensor bias = biasOpt ? *biasOpt : at::Tensor();
    if (q.dim() != 3 || k.dim() != 3 || v.dim() != 3) throw ArgError("q, k and v must be [B, S, D], got " + c10::str(q.sizes()) + ", " + c10::str(k.sizes()) + ", " + c10::str(v.sizes()));
    if (H < 1 || q.size(2) % H != 0) throw ArgError("embed dim " + std::to_string(q.size(2)) + " is not divisible by " + std::to_string(H) + " heads");
    if (k.sizes() != v.sizes() || k.size(0) != q.size(0) || k.size(2) != q.size(2)) throw ArgError("k and v must be [" + std::to_string(q.size(0)) + ", T, " + std::to_string(q.size(2)) + "], got " + c10::str(k.sizes()) + " and " + c10::str(v.sizes()));
    const bool fused = q.is_cpu() && FusableDtype(q) && k.scalar_type() == q.scalar_type() && v.scalar_type() == q.scalar_type() &&
                       (!bias.defined() || (!bias.requires_grad() && bias.scalar_type() == q.scalar_type() && bias.dim() <= 4)) &&
                       !AutocastEnabled(q.device().type()) && Blas::get().usable() &&
                       std::max({q.size(1), k.size(1), q.size(2)}) < INT32_MAX;  // the BLAS takes int sizes
    if (!fused) return Wrap(env, AttentionComposed(q, k, v, H, scale, bias));
    if (at::GradMode::is_enabled() && (q.requires_grad() || k.requires_grad() || v.requires_grad())) {
      const auto biasArg = bias.defined() ? c10::optional<at::Tensor>(bias) : c10::nullopt;
      return Wrap(env, AttentionFn::apply(q.contiguous(), k.contiguous(), v.contiguous(), biasArg, H, scale));
    }
    // No graph: the probabilities live one head at a time.
    RecordAttention guard("tvs::attention", q, k, H);
    return Wrap(env, AttentionForward(q.contiguous(), k.contiguous(), v.contiguous(), bias, H, scale, nullptr));
  })
  return env.Undefined();
}

// linearQuickGelu(x, W, b?) = quick_gelu(x Wᵀ + b), fused for float32/float64 CPU tensors outside autocast.
TVS_FN(linearQuickGelu) {
  auto env = info.Env();
  TVS_PROTECT("linearQuickGelu", {
    auto& x = T(info, 0);
    auto& w = T(info, 1);
    auto bOpt = OptT(info, 2);
    at::Tensor b = bOpt ? *bOpt : at::Tensor();
    const bool fused = x.is_cpu() && FusableDtype(x) && w.scalar_type() == x.scalar_type() && (!b.defined() || b.scalar_type() == x.scalar_type()) &&
                       x.dim() >= 2 && w.dim() == 2 && x.size(-1) == w.size(1) && (!b.defined() || (b.dim() == 1 && b.size(0) == w.size(0))) &&
                       !AutocastEnabled(at::kCPU);
    if (!fused) return Wrap(env, QuickGeluComposed(at::linear(x, w, b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt)));
    if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (b.defined() && b.requires_grad())))
      return Wrap(env, LinearQuickGeluFn::apply(x, w, b.defined() ? c10::optional<at::Tensor>(b) : c10::nullopt));
    // No graph: the activation overwrites the product (no second [tokens, 4 D] buffer).
    at::RecordFunction guard(at::RecordScope::FUNCTION);
    if (guard.isActive()) guard.before("tvs::linear_quick_gelu");
    auto shape = x.sizes().vec();
    shape.back() = w.size(0);
    auto h = at::mm(x.reshape({-1, x.size(-1)}), w.t());
    return Wrap(env, QuickGeluRows(h, b.defined() ? b.contiguous() : b, true).view(shape));
  })
  return env.Undefined();
}

// quickGelu(x) = x * sigmoid(1.702 x) (CLIP), fused for float32/float64 CPU tensors outside autocast.
TVS_FN(quickGelu) {
  auto env = info.Env();
  TVS_PROTECT("quickGelu", {
    auto& x = T(info, 0);
    if (!(x.is_cpu() && FusableDtype(x) && !AutocastEnabled(at::kCPU))) return Wrap(env, QuickGeluComposed(x));
    return Wrap(env, QuickGeluFn::apply(x));
  })
  return env.Undefined();
}

void InitFused(Napi::Env env, Napi::Object exports) {
  TVS_EXPORT(attention); TVS_EXPORT(linearQuickGelu); TVS_EXPORT(quickGelu);
}

}  // namespace tvs
