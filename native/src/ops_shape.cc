// Shape, view and indexing ops.
#include "common.h"

namespace tvs {

TVS_OP(reshape, at::reshape(T(info, 0), IList(info, 1)))
TVS_OP(view, T(info, 0).view(IList(info, 1)))
TVS_OP(permute, T(info, 0).permute(IList(info, 1)))
TVS_OP(transpose, at::transpose(T(info, 0), I64(info, 1), I64(info, 2)))
TVS_OP(expand, T(info, 0).expand(IList(info, 1)))
TVS_OP(repeat, T(info, 0).repeat(IList(info, 1)))
TVS_OP(flip, at::flip(T(info, 0), IList(info, 1)))
TVS_OP(unsqueeze, at::unsqueeze(T(info, 0), I64(info, 1)))
TVS_FN(squeeze) {
  auto env = info.Env();
  TVS_PROTECT("squeeze", {
    auto dim = OptI64(info, 1);
    if (!dim) return Wrap(env, at::squeeze(T(info, 0)));
    return Wrap(env, at::squeeze(T(info, 0), *dim));
  })
  return env.Undefined();
}
TVS_OP(flatten, at::flatten(T(info, 0), I64(info, 1), I64(info, 2)))
TVS_OP(cat, at::cat(TList(info, 0), I64(info, 1)))
TVS_OP(stack, at::stack(TList(info, 0), I64(info, 1)))
// split(t, sizeOrSizes, dim)
TVS_FN(split) {
  auto env = info.Env();
  TVS_PROTECT("split", {
    auto& t = T(info, 0);
    auto dim = I64(info, 2);
    if (info.Length() > 1 && info[1].IsArray()) return WrapList(env, at::split_with_sizes(t, IList(info, 1), dim));
    return WrapList(env, at::split(t, I64(info, 1), dim));
  })
  return env.Undefined();
}
TVS_FN(chunk) { auto env = info.Env(); TVS_PROTECT("chunk", { return WrapList(env, at::chunk(T(info, 0), I64(info, 1), I64(info, 2))); }) return env.Undefined(); }
TVS_FN(unbind) { auto env = info.Env(); TVS_PROTECT("unbind", { return WrapList(env, at::unbind(T(info, 0), I64(info, 1))); }) return env.Undefined(); }
TVS_OP(narrow, at::narrow(T(info, 0), I64(info, 1), I64(info, 2), I64(info, 3)))
// slice(t, dim, start?, end?, step) with Python slice semantics (negative/out-of-range clamp)
TVS_FN(slice) {
  auto env = info.Env();
  TVS_PROTECT("slice", {
    auto s = OptI64(info, 2);
    auto e = OptI64(info, 3);
    int64_t step = info.Length() > 4 && info[4].IsNumber() ? I64(info, 4) : 1;
    return Wrap(env, at::slice(T(info, 0), I64(info, 1), s ? c10::optional<int64_t>(*s) : c10::nullopt,
                               e ? c10::optional<int64_t>(*e) : c10::nullopt, step));
  })
  return env.Undefined();
}
TVS_OP(select, at::select(T(info, 0), I64(info, 1), I64(info, 2)))
TVS_OP(indexSelect, at::index_select(T(info, 0), I64(info, 1), T(info, 2)))
TVS_OP(gather, at::gather(T(info, 0), I64(info, 1), T(info, 2)))
TVS_OP(scatter, at::scatter(T(info, 0), I64(info, 1), T(info, 2), T(info, 3)))
TVS_OP(maskedSelect, at::masked_select(T(info, 0), T(info, 1)))
TVS_OP(tril, at::tril(T(info, 0), info.Length() > 1 && info[1].IsNumber() ? I64(info, 1) : 0))
TVS_OP(triu, at::triu(T(info, 0), info.Length() > 1 && info[1].IsNumber() ? I64(info, 1) : 0))
TVS_OP(nonzero, at::nonzero(T(info, 0)))

// index(t, [Tensor|null, ...]): advanced indexing, null = full slice on that dim.
static c10::List<c10::optional<at::Tensor>> IndexList(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray()) throw ArgError("argument " + std::to_string(i) + " must be an array of Tensors or nulls");
  auto arr = info[i].As<Napi::Array>();
  c10::List<c10::optional<at::Tensor>> out;
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (v.IsNull() || v.IsUndefined()) {
      out.push_back(c10::nullopt);
      continue;
    }
    if (!IsTensor(v)) throw ArgError("index[" + std::to_string(k) + "] must be a Tensor or null");
    auto* h = TensorHandle::Unwrap(v.As<Napi::Object>());
    if (h->disposed) throw ArgError("index[" + std::to_string(k) + "] is a disposed Tensor");
    out.push_back(h->tensor);
  }
  return out;
}
TVS_OP(index, at::index(T(info, 0), IndexList(info, 1)))
TVS_FN(indexPut_) {
  TVS_PROTECT("indexPut_", {
    T(info, 0).index_put_(IndexList(info, 1), T(info, 2), Bool(info, 3, false));
    return info[0];
  })
  return info.Env().Undefined();
}
// sliceAssign_(t, dim, start, end, src): t[..., start:end, ...] = src (in place, autograd-aware)
TVS_FN(sliceAssign_) {
  TVS_PROTECT("sliceAssign_", {
    auto& t = T(info, 0);
    at::slice(t, I64(info, 1), I64(info, 2), I64(info, 3), 1).copy_(T(info, 4));
    return info[0];
  })
  return info.Env().Undefined();
}

void InitShape(Napi::Env env, Napi::Object exports) {
  TVS_EXPORT(reshape); TVS_EXPORT(view); TVS_EXPORT(permute); TVS_EXPORT(transpose); TVS_EXPORT(expand);
  TVS_EXPORT(repeat); TVS_EXPORT(flip); TVS_EXPORT(unsqueeze); TVS_EXPORT(squeeze); TVS_EXPORT(flatten);
  TVS_EXPORT(cat); TVS_EXPORT(stack); TVS_EXPORT(split); TVS_EXPORT(chunk); TVS_EXPORT(unbind);
  TVS_EXPORT(narrow); TVS_EXPORT(slice); TVS_EXPORT(select); TVS_EXPORT(indexSelect); TVS_EXPORT(gather);
  TVS_EXPORT(scatter); TVS_EXPORT(maskedSelect); TVS_EXPORT(tril); TVS_EXPORT(triu); TVS_EXPORT(nonzero);
  TVS_EXPORT(index); TVS_EXPORT(indexPut_); TVS_EXPORT(sliceAssign_);
}

}  // namespace tvs
