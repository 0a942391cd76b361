// Elementwise arithmetic, comparisons, reductions and matrix products. Names follow
// PyTorch's; a trailing underscore marks an in-place op that returns its first argument.
#include "common.h"

namespace tvs {

// Binary op whose second operand may be a Tensor or a JS number/boolean (a Scalar).
#define TVS_BINARY(NAME, CALL_T, CALL_S)                                   \
  TVS_FN(NAME) {                                                           \
    auto env = info.Env();                                                 \
    TVS_PROTECT(#NAME, {                                                   \
      auto& a = T(info, 0);                                                \
      if (info.Length() > 1 && IsTensor(info[1])) {                        \
        auto& b = T(info, 1);                                              \
        return Wrap(env, CALL_T);                                          \
      }                                                                    \
      auto b = Sc(info, 1);                                                \
      return Wrap(env, CALL_S);                                            \
    })                                                                     \
    return env.Undefined();                                                \
  }
#define TVS_BINARY_INPLACE(NAME, CALL_T, CALL_S)                           \
  TVS_FN(NAME) {                                                           \
    TVS_PROTECT(#NAME, {                                                   \
      auto& a = T(info, 0);                                                \
      if (info.Length() > 1 && IsTensor(info[1])) {                        \
        auto& b = T(info, 1);                                              \
        CALL_T;                                                            \
      } else {                                                             \
        auto b = Sc(info, 1);                                              \
        CALL_S;                                                            \
      }                                                                    \
      return info[0];                                                      \
    })                                                                     \
    return info.Env().Undefined();                                         \
  }

// add/sub take an optional alpha (PyTorch: a + alpha * b).
TVS_BINARY(add, at::add(a, b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)),
           at::add(a, b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)))
TVS_BINARY(sub, at::sub(a, b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)),
           at::sub(a, b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)))
TVS_BINARY(mul, at::mul(a, b), at::mul(a, b))
TVS_BINARY(div, at::div(a, b), at::div(a, b))
TVS_BINARY(pow, at::pow(a, b), at::pow(a, b))
TVS_BINARY(remainder, at::remainder(a, b), at::remainder(a, b))
TVS_BINARY(fmod, at::fmod(a, b), at::fmod(a, b))
TVS_BINARY(maximum, at::maximum(a, b), at::clamp_min(a, b))
TVS_BINARY(minimum, at::minimum(a, b), at::clamp_max(a, b))
TVS_BINARY(eq, at::eq(a, b), at::eq(a, b))
TVS_BINARY(ne, at::ne(a, b), at::ne(a, b))
TVS_BINARY(lt, at::lt(a, b), at::lt(a, b))
TVS_BINARY(le, at::le(a, b), at::le(a, b))
TVS_BINARY(gt, at::gt(a, b), at::gt(a, b))
TVS_BINARY(ge, at::ge(a, b), at::ge(a, b))
TVS_BINARY(logicalAnd, at::logical_and(a, b), at::logical_and(a, at::scalar_tensor(b, a.options())))
TVS_BINARY(logicalOr, at::logical_or(a, b), at::logical_or(a, at::scalar_tensor(b, a.options())))
TVS_BINARY(atan2, at::atan2(a, b), at::atan2(a, at::scalar_tensor(b, a.options())))
TVS_OP(rsubScalar, at::rsub(T(info, 0), Sc(info, 1)))

TVS_BINARY_INPLACE(add_, a.add_(b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)),
                   a.add_(b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)))
TVS_BINARY_INPLACE(sub_, a.sub_(b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)),
                   a.sub_(b, info.Length() > 2 && info[2].IsNumber() ? Sc(info, 2) : at::Scalar(1)))
TVS_BINARY_INPLACE(mul_, a.mul_(b), a.mul_(b))
TVS_BINARY_INPLACE(div_, a.div_(b), a.div_(b))

// addcmul_(t, a, b, value): t += value * a * b ; addcdiv_(t, a, b, value): t += value * a / b
TVS_FN(addcmul_) { TVS_PROTECT("addcmul_", { T(info, 0).addcmul_(T(info, 1), T(info, 2), Sc(info, 3)); return info[0]; }) return info.Env().Undefined(); }
TVS_FN(addcdiv_) { TVS_PROTECT("addcdiv_", { T(info, 0).addcdiv_(T(info, 1), T(info, 2), Sc(info, 3)); return info[0]; }) return info.Env().Undefined(); }
TVS_FN(lerp_) { TVS_PROTECT("lerp_", { T(info, 0).lerp_(T(info, 1), Sc(info, 2)); return info[0]; }) return info.Env().Undefined(); }
TVS_FN(clamp_) {
  TVS_PROTECT("clamp_", {
    auto lo = OptF64(info, 1);
    auto hi = OptF64(info, 2);
    T(info, 0).clamp_(lo ? c10::optional<at::Scalar>(*lo) : c10::nullopt, hi ? c10::optional<at::Scalar>(*hi) : c10::nullopt);
    return info[0];
  })
  return info.Env().Undefined();
}
TVS_FN(sqrt_) { TVS_PROTECT("sqrt_", { T(info, 0).sqrt_(); return info[0]; }) return info.Env().Undefined(); }

// ---------------------------------------------------------------- unary
TVS_OP(neg, at::neg(T(info, 0)))
TVS_OP(abs, at::abs(T(info, 0)))
TVS_OP(exp, at::exp(T(info, 0)))
TVS_OP(log, at::log(T(info, 0)))
TVS_OP(log1p, at::log1p(T(info, 0)))
TVS_OP(expm1, at::expm1(T(info, 0)))
TVS_OP(sqrt, at::sqrt(T(info, 0)))
TVS_OP(rsqrt, at::rsqrt(T(info, 0)))
TVS_OP(sin, at::sin(T(info, 0)))
TVS_OP(cos, at::cos(T(info, 0)))
TVS_OP(tanh, at::tanh(T(info, 0)))
TVS_OP(sigmoid, at::sigmoid(T(info, 0)))
TVS_OP(relu, at::relu(T(info, 0)))
TVS_OP(silu, at::silu(T(info, 0)))
TVS_OP(erf, at::erf(T(info, 0)))
TVS_OP(floor, at::floor(T(info, 0)))
TVS_OP(ceil, at::ceil(T(info, 0)))
TVS_OP(round, at::round(T(info, 0)))
TVS_OP(sign, at::sign(T(info, 0)))
TVS_OP(reciprocal, at::reciprocal(T(info, 0)))
TVS_OP(square, at::square(T(info, 0)))
TVS_OP(logicalNot, at::logical_not(T(info, 0)))
TVS_OP(isnan, at::isnan(T(info, 0)))
TVS_OP(isfinite, at::isfinite(T(info, 0)))
TVS_OP(gelu, at::gelu(T(info, 0), info.Length() > 1 && info[1].IsString() ? Str(info, 1) : std::string("none")))
TVS_OP(leakyRelu, at::leaky_relu(T(info, 0), Sc(info, 1)))
TVS_OP(softplus, at::softplus(T(info, 0), Sc(info, 1), Sc(info, 2)))
TVS_FN(clamp) {
  auto env = info.Env();
  TVS_PROTECT("clamp", {
    auto& t = T(info, 0);
    if ((info.Length() > 1 && IsTensor(info[1])) || (info.Length() > 2 && IsTensor(info[2]))) {
      auto lo = OptT(info, 1);
      auto hi = OptT(info, 2);
      return Wrap(env, at::clamp(t, lo ? c10::optional<at::Tensor>(*lo) : c10::nullopt, hi ? c10::optional<at::Tensor>(*hi) : c10::nullopt));
    }
    auto lo = OptF64(info, 1);
    auto hi = OptF64(info, 2);
    return Wrap(env, at::clamp(t, lo ? c10::optional<at::Scalar>(*lo) : c10::nullopt, hi ? c10::optional<at::Scalar>(*hi) : c10::nullopt));
  })
  return env.Undefined();
}
TVS_OP(where, at::where(T(info, 0), T(info, 1), T(info, 2)))
TVS_FN(maskedFill) {
  auto env = info.Env();
  TVS_PROTECT("maskedFill", {
    if (info.Length() > 2 && IsTensor(info[2])) return Wrap(env, at::masked_fill(T(info, 0), T(info, 1), T(info, 2)));
    return Wrap(env, at::masked_fill(T(info, 0), T(info, 1), Sc(info, 2)));
  })
  return env.Undefined();
}

// ---------------------------------------------------------------- reductions
// sum(t, dims|null, keepdim, dtype?) — dims null reduces everything.
TVS_FN(sum) {
  auto env = info.Env();
  TVS_PROTECT("sum", {
    auto& t = T(info, 0);
    auto dims = OptIList(info, 1);
    auto dt = OptDtype(info, 3);
    if (!dims) return Wrap(env, at::sum(t, dt ? c10::optional<at::ScalarType>(*dt) : c10::nullopt));
    return Wrap(env, at::sum(t, *dims, Bool(info, 2), dt ? c10::optional<at::ScalarType>(*dt) : c10::nullopt));
  })
  return env.Undefined();
}
TVS_FN(mean) {
  auto env = info.Env();
  TVS_PROTECT("mean", {
    auto& t = T(info, 0);
    auto dims = OptIList(info, 1);
    if (!dims) return Wrap(env, at::mean(t));
    return Wrap(env, at::mean(t, *dims, Bool(info, 2)));
  })
  return env.Undefined();
}
TVS_FN(prod) {
  auto env = info.Env();
  TVS_PROTECT("prod", {
    auto& t = T(info, 0);
    auto dim = OptI64(info, 1);
    if (!dim) return Wrap(env, at::prod(t));
    return Wrap(env, at::prod(t, *dim, Bool(info, 2)));
  })
  return env.Undefined();
}
// var/std(t, dims|null, correction(0|1), keepdim)
TVS_FN(var) {
  auto env = info.Env();
  TVS_PROTECT("var", {
    auto& t = T(info, 0);
    auto dims = OptIList(info, 1);
    bool unbiased = I64(info, 2) != 0;
    if (!dims) return Wrap(env, at::var(t, unbiased));
    return Wrap(env, at::var(t, at::IntArrayRef(*dims), unbiased, Bool(info, 3)));
  })
  return env.Undefined();
}
TVS_FN(std) {
  auto env = info.Env();
  TVS_PROTECT("std", {
    auto& t = T(info, 0);
    auto dims = OptIList(info, 1);
    bool unbiased = I64(info, 2) != 0;
    if (!dims) return Wrap(env, at::std(t, unbiased));
    return Wrap(env, at::std(t, at::IntArrayRef(*dims), unbiased, Bool(info, 3)));
  })
  return env.Undefined();
}
// max/min: (t) -> scalar tensor; (t, dim, keepdim) -> [values, indices]
TVS_FN(max) {
  auto env = info.Env();
  TVS_PROTECT("max", {
    auto& t = T(info, 0);
    auto dim = OptI64(info, 1);
    if (!dim) return Wrap(env, at::max(t));
    auto r = at::max(t, *dim, Bool(info, 2));
    return WrapList(env, {std::get<0>(r), std::get<1>(r)});
  })
  return env.Undefined();
}
TVS_FN(min) {
  auto env = info.Env();
  TVS_PROTECT("min", {
    auto& t = T(info, 0);
    auto dim = OptI64(info, 1);
    if (!dim) return Wrap(env, at::min(t));
    auto r = at::min(t, *dim, Bool(info, 2));
    return WrapList(env, {std::get<0>(r), std::get<1>(r)});
  })
  return env.Undefined();
}
TVS_FN(amax) { auto env = info.Env(); TVS_PROTECT("amax", { return Wrap(env, at::amax(T(info, 0), IList(info, 1), Bool(info, 2))); }) return env.Undefined(); }
TVS_FN(amin) { auto env = info.Env(); TVS_PROTECT("amin", { return Wrap(env, at::amin(T(info, 0), IList(info, 1), Bool(info, 2))); }) return env.Undefined(); }
TVS_FN(argmax) {
  auto env = info.Env();
  TVS_PROTECT("argmax", {
    auto dim = OptI64(info, 1);
    return Wrap(env, at::argmax(T(info, 0), dim ? c10::optional<int64_t>(*dim) : c10::nullopt, Bool(info, 2)));
  })
  return env.Undefined();
}
TVS_FN(argmin) {
  auto env = info.Env();
  TVS_PROTECT("argmin", {
    auto dim = OptI64(info, 1);
    return Wrap(env, at::argmin(T(info, 0), dim ? c10::optional<int64_t>(*dim) : c10::nullopt, Bool(info, 2)));
  })
  return env.Undefined();
}
// norm(t, p, dims|null, keepdim)
TVS_FN(norm) {
  auto env = info.Env();
  TVS_PROTECT("norm", {
    auto& t = T(info, 0);
    at::Scalar p = Sc(info, 1);
    auto dims = OptIList(info, 2);
    if (!dims) return Wrap(env, at::norm(t, p));
    return Wrap(env, at::norm(t, p, *dims, Bool(info, 3)));
  })
  return env.Undefined();
}
TVS_OP(logsumexp, at::logsumexp(T(info, 0), IList(info, 1), Bool(info, 2)))
TVS_OP(cumsum, at::cumsum(T(info, 0), I64(info, 1)))
TVS_FN(all) { auto env = info.Env(); TVS_PROTECT("all", { return Wrap(env, at::all(T(info, 0))); }) return env.Undefined(); }
TVS_FN(any) { auto env = info.Env(); TVS_PROTECT("any", { return Wrap(env, at::any(T(info, 0))); }) return env.Undefined(); }
TVS_FN(topk) {
  auto env = info.Env();
  TVS_PROTECT("topk", {
    auto r = at::topk(T(info, 0), I64(info, 1), I64(info, 2), Bool(info, 3, true), true);
    return WrapList(env, {std::get<0>(r), std::get<1>(r)});
  })
  return env.Undefined();
}
TVS_FN(sort) {
  auto env = info.Env();
  TVS_PROTECT("sort", {
    auto r = at::sort(T(info, 0), I64(info, 1), Bool(info, 2));
    return WrapList(env, {std::get<0>(r), std::get<1>(r)});
  })
  return env.Undefined();
}
TVS_FN(allclose) {
  TVS_PROTECT("allclose", { return Napi::Boolean::New(info.Env(), at::allclose(T(info, 0), T(info, 1), F64(info, 2), F64(info, 3))); })
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- matrix products
TVS_OP(matmul, at::matmul(T(info, 0), T(info, 1)))
TVS_OP(mm, at::mm(T(info, 0), T(info, 1)))
TVS_OP(bmm, at::bmm(T(info, 0), T(info, 1)))
TVS_OP(outer, at::outer(T(info, 0), T(info, 1)))
TVS_FN(linear) {
  auto env = info.Env();
  TVS_PROTECT("linear", {
    auto b = OptT(info, 2);
    return Wrap(env, at::linear(T(info, 0), T(info, 1), b ? c10::optional<at::Tensor>(*b) : c10::nullopt));
  })
  return env.Undefined();
}
TVS_OP(einsum, at::einsum(Str(info, 0), TList(info, 1)))

void InitMath(Napi::Env env, Napi::Object exports) {
  TVS_EXPORT(add); TVS_EXPORT(sub); TVS_EXPORT(mul); TVS_EXPORT(div); TVS_EXPORT(pow);
  TVS_EXPORT(remainder); TVS_EXPORT(fmod); TVS_EXPORT(maximum); TVS_EXPORT(minimum);
  TVS_EXPORT(eq); TVS_EXPORT(ne); TVS_EXPORT(lt); TVS_EXPORT(le); TVS_EXPORT(gt); TVS_EXPORT(ge);
  TVS_EXPORT(logicalAnd); TVS_EXPORT(logicalOr); TVS_EXPORT(atan2); TVS_EXPORT(rsubScalar);
  TVS_EXPORT(add_); TVS_EXPORT(sub_); TVS_EXPORT(mul_); TVS_EXPORT(div_);
  TVS_EXPORT(addcmul_); TVS_EXPORT(addcdiv_); TVS_EXPORT(lerp_); TVS_EXPORT(clamp_); TVS_EXPORT(sqrt_);
  TVS_EXPORT(neg); TVS_EXPORT(abs); TVS_EXPORT(exp); TVS_EXPORT(log); TVS_EXPORT(log1p); TVS_EXPORT(expm1);
  TVS_EXPORT(sqrt); TVS_EXPORT(rsqrt); TVS_EXPORT(sin); TVS_EXPORT(cos); TVS_EXPORT(tanh);
  TVS_EXPORT(sigmoid); TVS_EXPORT(relu); TVS_EXPORT(silu); TVS_EXPORT(erf); TVS_EXPORT(floor);
  TVS_EXPORT(ceil); TVS_EXPORT(round); TVS_EXPORT(sign); TVS_EXPORT(reciprocal); TVS_EXPORT(square);
  TVS_EXPORT(logicalNot); TVS_EXPORT(isnan); TVS_EXPORT(isfinite); TVS_EXPORT(gelu);
  TVS_EXPORT(leakyRelu); TVS_EXPORT(softplus); TVS_EXPORT(clamp); TVS_EXPORT(where); TVS_EXPORT(maskedFill);
  TVS_EXPORT(sum); TVS_EXPORT(mean); TVS_EXPORT(prod); TVS_EXPORT(var); TVS_EXPORT(std);
  TVS_EXPORT(max); TVS_EXPORT(min); TVS_EXPORT(amax); TVS_EXPORT(amin); TVS_EXPORT(argmax); TVS_EXPORT(argmin);
  TVS_EXPORT(norm); TVS_EXPORT(logsumexp); TVS_EXPORT(cumsum); TVS_EXPORT(all); TVS_EXPORT(any);
  TVS_EXPORT(topk); TVS_EXPORT(sort); TVS_EXPORT(allclose);
  TVS_EXPORT(matmul); TVS_EXPORT(mm); TVS_EXPORT(bmm); TVS_EXPORT(outer); TVS_EXPORT(linear); TVS_EXPORT(einsum);
}

}  // namespace tvs
