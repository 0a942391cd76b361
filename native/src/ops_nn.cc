// Neural-network functional ops (the torch.nn.functional subset a ViT, a ResNet, a
// transformer decoder and image augmentation need).
#include "common.h"

#include <c10/core/GradMode.h>
#include <cmath>

namespace tvs {

static c10::optional<at::Tensor> Opt(const std::optional<at::Tensor>& t) {
  return t ? c10::optional<at::Tensor>(*t) : c10::nullopt;
}

TVS_FN(softmax) {
  auto env = info.Env();
  TVS_PROTECT("softmax", {
    auto dt = OptDtype(info, 2);
    return Wrap(env, at::softmax(T(info, 0), I64(info, 1), dt ? c10::optional<at::ScalarType>(*dt) : c10::nullopt));
  })
  return env.Undefined();
}
TVS_FN(logSoftmax) {
  auto env = info.Env();
  TVS_PROTECT("logSoftmax", {
    auto dt = OptDtype(info, 2);
    return Wrap(env, at::log_softmax(T(info, 0), I64(info, 1), dt ? c10::optional<at::ScalarType>(*dt) : c10::nullopt));
  })
  return env.Undefined();
}

// layerNorm(x, normalizedShape, weight?, bias?, eps)
TVS_OP(layerNorm, at::layer_norm(T(info, 0), IList(info, 1), Opt(OptT(info, 2)), Opt(OptT(info, 3)), F64(info, 4), true))
// batchNorm(x, weight?, bias?, runningMean?, runningVar?, training, momentum, eps)
TVS_OP(batchNorm, at::batch_norm(T(info, 0), Opt(OptT(info, 1)), Opt(OptT(info, 2)), Opt(OptT(info, 3)), Opt(OptT(info, 4)),
                                 Bool(info, 5), F64(info, 6), F64(info, 7), true))
TVS_OP(groupNorm, at::group_norm(T(info, 0), I64(info, 1), Opt(OptT(info, 2)), Opt(OptT(info, 3)), F64(info, 4), true))

// conv2d(x, w, b?, stride[2], padding([2] | 'same' | 'valid'), dilation[2], groups)
TVS_FN(conv2d) {
  auto env = info.Env();
  TVS_PROTECT("conv2d", {
    auto& x = T(info, 0);
    auto& w = T(info, 1);
    auto b = Opt(OptT(info, 2));
    auto stride = IList(info, 3);
    auto dil = IList(info, 5);
    auto groups = I64(info, 6);
    if (info.Length() > 4 && info[4].IsString()) {
      std::string mode = Str(info, 4);
      if (mode != "same" && mode != "valid") throw ArgError("padding must be 'same', 'valid' or integers, got '" + mode + "'");
      return Wrap(env, at::conv2d(x, w, b, stride, c10::string_view(mode), dil, groups));
    }
    return Wrap(env, at::conv2d(x, w, b, stride, IList(info, 4), dil, groups));
  })
  return env.Undefined();
}
TVS_FN(conv1d) {
  auto env = info.Env();
  TVS_PROTECT("conv1d", {
    return Wrap(env, at::conv1d(T(info, 0), T(info, 1), Opt(OptT(info, 2)), IList(info, 3), IList(info, 4), IList(info, 5), I64(info, 6)));
  })
  return env.Undefined();
}
// convTranspose2d(x, w, b?, stride, padding, outputPadding, groups, dilation)
TVS_OP(convTranspose2d, at::conv_transpose2d(T(info, 0), T(info, 1), Opt(OptT(info, 2)), IList(info, 3), IList(info, 4), IList(info, 5), I64(info, 6), IList(info, 7)))

// maxPool2d(x, kernel, stride, padding, dilation, ceilMode)
TVS_OP(maxPool2d, at::max_pool2d(T(info, 0), IList(info, 1), IList(info, 2), IList(info, 3), IList(info, 4), Bool(info, 5)))
// avgPool2d(x, kernel, stride, padding, ceilMode, countIncludePad, divisorOverride?)
TVS_FN(avgPool2d) {
  auto env = info.Env();
  TVS_PROTECT("avgPool2d", {
    auto div = OptI64(info, 6);
    return Wrap(env, at::avg_pool2d(T(info, 0), IList(info, 1), IList(info, 2), IList(info, 3), Bool(info, 4), Bool(info, 5, true),
                                    div ? c10::optional<int64_t>(*div) : c10::nullopt));
  })
  return env.Undefined();
}
TVS_OP(adaptiveAvgPool2d, at::adaptive_avg_pool2d(T(info, 0), IList(info, 1)))
TVS_OP(adaptiveMaxPool2d, std::get<0>(at::adaptive_max_pool2d(T(info, 0), IList(info, 1))))

// interpolate(x, size?, scaleFactors?, mode, alignCorners?) for 4-D input; mode one of
// nearest | bilinear | bicubic. Like F.interpolate, explicit scale factors are passed to the
// kernel (they define the source coordinate mapping), otherwise the sizes do.
TVS_FN(interpolate) {
  auto env = info.Env();
  TVS_PROTECT("interpolate", {
    auto& x = T(info, 0);
    auto size = OptIList(info, 1);
    std::optional<std::vector<double>> scales;
    if (info.Length() > 2 && !info[2].IsNull() && !info[2].IsUndefined()) scales = FList(info, 2);
    std::string mode = Str(info, 3);
    bool ac = Bool(info, 4, false);
    if (x.dim() != 4) throw ArgError("interpolate supports 4-D (N,C,H,W) input, got " + std::to_string(x.dim()) + "-D");
    if (!size && !scales) throw ArgError("interpolate needs a size or scale factors");
    c10::optional<at::IntArrayRef> os = size ? c10::optional<at::IntArrayRef>(*size) : c10::nullopt;
    c10::optional<at::ArrayRef<double>> sf = scales ? c10::optional<at::ArrayRef<double>>(*scales) : c10::nullopt;
    if (mode == "nearest") return Wrap(env, at::upsample_nearest2d(x, os, sf));
    if (mode == "bilinear") return Wrap(env, at::upsample_bilinear2d(x, os, ac, sf));
    if (mode == "bicubic") return Wrap(env, at::upsample_bicubic2d(x, os, ac, sf));
    throw ArgError("unknown interpolate mode '" + mode + "' (nearest, bilinear, bicubic)");
  })
  return env.Undefined();
}

// pad(x, pads (last dim first, as F.pad), mode, value)
TVS_FN(pad) {
  auto env = info.Env();
  TVS_PROTECT("pad", {
    auto& x = T(info, 0);
    auto pads = IList(info, 1);
    std::string mode = Str(info, 2);
    if (mode == "constant") return Wrap(env, at::constant_pad_nd(x, pads, info.Length() > 3 && info[3].IsNumber() ? Sc(info, 3) : at::Scalar(0)));
    auto np = pads.size() / 2;
    if (pads.size() % 2 != 0) throw ArgError("pad needs an even number of padding sizes");
    if (mode == "replicate") {
      if (np == 1 && (x.dim() == 2 || x.dim() == 3)) return Wrap(env, at::replication_pad1d(x, pads));
      if (np == 2 && (x.dim() == 3 || x.dim() == 4)) return Wrap(env, at::replication_pad2d(x, pads));
      if (np == 3 && (x.dim() == 4 || x.dim() == 5)) return Wrap(env, at::replication_pad3d(x, pads));
    } else if (mode == "reflect") {
      if (np == 1 && (x.dim() == 2 || x.dim() == 3)) return Wrap(env, at::reflection_pad1d(x, pads));
      if (np == 2 && (x.dim() == 3 || x.dim() == 4)) return Wrap(env, at::reflection_pad2d(x, pads));
    } else if (mode == "circular") {
      // Wrap-around padding built from slices (works for any number of padded dims).
      at::Tensor out = x;
      for (size_t k = 0; k < np; k++) {
        int64_t dim = x.dim() - 1 - static_cast<int64_t>(k);
        int64_t l = pads[2 * k], r = pads[2 * k + 1];
        int64_t n = out.size(dim);
        if (l > n || r > n) throw ArgError("circular padding larger than the input size");
        std::vector<at::Tensor> parts;
        if (l > 0) parts.push_back(out.narrow(dim, n - l, l));
        parts.push_back(out);
        if (r > 0) parts.push_back(out.narrow(dim, 0, r));
        out = at::cat(parts, dim);
      }
      return Wrap(env, out);
    } else {
      throw ArgError("unknown pad mode '" + mode + "' (constant, reflect, replicate, circular)");
    }
    throw ArgError(mode + " padding of " + std::to_string(np) + " dims is not supported for a " + std::to_string(x.dim()) + "-D input");
  })
  return env.Undefined();
}

// affineGrid(theta [N,2,3], size [N,C,H,W], alignCorners)
TVS_OP(affineGrid, at::affine_grid_generator(T(info, 0), IList(info, 1), Bool(info, 2)))
// gridSample(x, grid, mode: bilinear|nearest|bicubic, paddingMode: zeros|border|reflection, alignCorners)
TVS_FN(gridSample) {
  auto env = info.Env();
  TVS_PROTECT("gridSample", {
    std::string mode = Str(info, 2), padm = Str(info, 3);
    int64_t m = mode == "bilinear" ? 0 : mode == "nearest" ? 1 : mode == "bicubic" ? 2 : -1;
    int64_t p = padm == "zeros" ? 0 : padm == "border" ? 1 : padm == "reflection" ? 2 : -1;
    if (m < 0) throw ArgError("unknown grid sample mode '" + mode + "'");
    if (p < 0) throw ArgError("unknown grid sample padding mode '" + padm + "'");
    return Wrap(env, at::grid_sampler(T(info, 0), T(info, 1), m, p, Bool(info, 4)));
  })
  return env.Undefined();
}

// embedding(weight, indices, paddingIdx = -1)
TVS_OP(embedding, at::embedding(T(info, 0), T(info, 1), info.Length() > 2 && info[2].IsNumber() ? I64(info, 2) : -1))
TVS_OP(dropout, at::dropout(T(info, 0), F64(info, 1), Bool(info, 2)))

// scaledDotProductAttention(q, k, v, mask?, dropoutP, isCausal, scale?) on [..., L, E].
// A boolean mask marks positions that may be attended (PyTorch semantics); a float mask is
// added to the scores. libtorch >= 2.0 runs its fused kernels; 1.13 the same math explicitly.
TVS_FN(scaledDotProductAttention) {
  auto env = info.Env();
  TVS_PROTECT("scaledDotProductAttention", {
    auto& q = T(info, 0);
    auto& k = T(info, 1);
    auto& v = T(info, 2);
    auto mask = OptT(info, 3);
    double p = info.Length() > 4 && info[4].IsNumber() ? F64(info, 4) : 0.0;
    bool causal = Bool(info, 5, false);
    auto scale = OptF64(info, 6);
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
    return Wrap(env, at::scaled_dot_product_attention(q, k, v, Opt(mask), p, causal, scale ? c10::optional<double>(*scale) : c10::nullopt));
#else
    double s = scale ? *scale : 1.0 / std::sqrt(static_cast<double>(q.size(-1)));
    auto scores = at::matmul(q * s, k.transpose(-2, -1));
    if (causal) {
      auto L = q.size(-2), S = k.size(-2);
      auto keep = at::ones({L, S}, q.options().dtype(at::kBool)).tril();
      scores = scores.masked_fill(keep.logical_not(), -std::numeric_limits<double>::infinity());
    }
    if (mask) {
      if (mask->scalar_type() == at::kBool) scores = scores.masked_fill(mask->logical_not(), -std::numeric_limits<double>::infinity());
      else scores = scores + *mask;
    }
    auto attn = at::softmax(scores, -1);
    if (p > 0) attn = at::dropout(attn, p, true);
    return Wrap(env, at::matmul(attn, v));
#endif
  })
  return env.Undefined();
}

// binaryCrossEntropyWithLogits(x, target, weight?, posWeight?, reduction: 'none'|'mean'|'sum')
TVS_FN(binaryCrossEntropyWithLogits) {
  auto env = info.Env();
  TVS_PROTECT("binaryCrossEntropyWithLogits", {
    std::string red = info.Length() > 4 && info[4].IsString() ? Str(info, 4) : "mean";
    int64_t r = red == "none" ? 0 : red == "mean" ? 1 : red == "sum" ? 2 : -1;
    if (r < 0) throw ArgError("unknown reduction '" + red + "'");
    return Wrap(env, at::binary_cross_entropy_with_logits(T(info, 0), T(info, 1), Opt(OptT(info, 2)), Opt(OptT(info, 3)), r));
  })
  return env.Undefined();
}
TVS_FN(mseLoss) {
  auto env = info.Env();
  TVS_PROTECT("mseLoss", {
    std::string red = info.Length() > 2 && info[2].IsString() ? Str(info, 2) : "mean";
    int64_t r = red == "none" ? 0 : red == "mean" ? 1 : red == "sum" ? 2 : -1;
    if (r < 0) throw ArgError("unknown reduction '" + red + "'");
    return Wrap(env, at::mse_loss(T(info, 0), T(info, 1), r));
  })
  return env.Undefined();
}
TVS_FN(crossEntropy) {
  auto env = info.Env();
  TVS_PROTECT("crossEntropy", {
    std::string red = info.Length() > 2 && info[2].IsString() ? Str(info, 2) : "mean";
    int64_t r = red == "none" ? 0 : red == "mean" ? 1 : red == "sum" ? 2 : -1;
    if (r < 0) throw ArgError("unknown reduction '" + red + "'");
    return Wrap(env, at::cross_entropy_loss(T(info, 0), T(info, 1), c10::nullopt, r, -100, 0.0));
  })
  return env.Undefined();
}

// clipGradNorm_(params, maxNorm, normType): total norm of the grads (as one vector), then
// scales every grad in place by maxNorm / (total + 1e-6) when that is < 1 (torch semantics).
TVS_FN(clipGradNorm_) {
  auto env = info.Env();
  TVS_PROTECT("clipGradNorm_", {
    auto params = TList(info, 0);
    double maxNorm = F64(info, 1);
    double p = F64(info, 2);
    std::vector<at::Tensor> grads;
    for (auto& t : params) if (t.grad().defined()) grads.push_back(t.grad());
    if (grads.empty()) return Napi::Number::New(env, 0.0);
    c10::NoGradGuard ng;
    at::Tensor total;
    if (std::isinf(p)) {
      std::vector<at::Tensor> ms;
      for (auto& g : grads) ms.push_back(g.abs().max().to(grads[0].device()));
      total = at::stack(ms).max();
    } else {
      std::vector<at::Tensor> ns;
      for (auto& g : grads) ns.push_back(at::norm(g, p).to(grads[0].device()));
      total = at::norm(at::stack(ns), p);
    }
    auto coef = maxNorm / (total + 1e-6);
    auto clamped = at::clamp_max(coef, 1.0);
    for (auto& g : grads) g.mul_(clamped.to(g.device()));
    return Napi::Number::New(env, total.item<double>());
  })
  return env.Undefined();
}

void InitNN(Napi::Env env, Napi::Object exports) {
  TVS_EXPORT(softmax); TVS_EXPORT(logSoftmax); TVS_EXPORT(layerNorm); TVS_EXPORT(batchNorm); TVS_EXPORT(groupNorm);
  TVS_EXPORT(conv2d); TVS_EXPORT(conv1d); TVS_EXPORT(convTranspose2d); TVS_EXPORT(maxPool2d); TVS_EXPORT(avgPool2d);
  TVS_EXPORT(adaptiveAvgPool2d); TVS_EXPORT(adaptiveMaxPool2d); TVS_EXPORT(interpolate); TVS_EXPORT(pad);
  TVS_EXPORT(affineGrid); TVS_EXPORT(gridSample); TVS_EXPORT(embedding); TVS_EXPORT(dropout);
  TVS_EXPORT(scaledDotProductAttention); TVS_EXPORT(binaryCrossEntropyWithLogits); TVS_EXPORT(mseLoss);
  TVS_EXPORT(crossEntropy); TVS_EXPORT(clipGradNorm_);
}

}  // namespace tvs
