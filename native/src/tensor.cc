// Tensor handles, argument conversion, creation, data transfer, autograd, RNG, config.
#include "common.h"

#include <ATen/core/grad_mode.h>
#include <torch/cuda.h>
#include <cmath>
#include <cstring>
#include <sstream>

namespace tvs {

Napi::FunctionReference* TensorHandle::constructor = nullptr;
static const napi_type_tag kTensorTag = {0x7476735f74656e73ULL, 0x6f725f68616e646cULL};

Counters& counters() {
  static Counters c;
  return c;
}

static int64_t TensorBytes(const at::Tensor& t) {
  if (!t.defined()) return 0;
  // Report the storage a tensor keeps alive (views share it, so this over-counts views;
  // the figure only needs to create realistic GC pressure).
  try {
    return static_cast<int64_t>(t.numel() * t.element_size());
  } catch (...) {
    return 0;
  }
}

// V8 only needs a rough picture of native memory to schedule GCs; telling it about every
// tensor costs a call into the isolate per op. Batch the deltas and report past 4 MB.
static void ReportExternal(napi_env env, int64_t delta) {
  static int64_t pending = 0;
  pending += delta;
  if (pending > (4 << 20) || pending < -(4 << 20)) {
    int64_t ignored;
    napi_adjust_external_memory(env, pending, &ignored);
    pending = 0;
  }
}

void TensorHandle::Init(Napi::Env env, Napi::Object exports) {
  Napi::Function fn = DefineClass(env, "NativeTensor", {});
  constructor = new Napi::FunctionReference(Napi::Persistent(fn));
  exports.Set("NativeTensor", fn);
}

TensorHandle::TensorHandle(const Napi::CallbackInfo& info) : Napi::ObjectWrap<TensorHandle>(info) {
  if (info.Length() < 1 || !info[0].IsExternal()) {
    throw Napi::TypeError::New(info.Env(), "NativeTensor cannot be constructed from JS; use the tensor API");
  }
  auto* src = info[0].As<Napi::External<at::Tensor>>().Data();
  tensor = std::move(*src);
  accountedBytes = TensorBytes(tensor);
  napi_type_tag_object(info.Env(), info.This(), &kTensorTag);
  auto& c = counters();
  c.live++;
  c.liveBytes += accountedBytes;
  if (c.live > c.peak) c.peak = c.live;
  if (c.liveBytes > c.peakBytes) c.peakBytes = c.liveBytes;
  if (accountedBytes > 0 && tensor.device().is_cpu()) ReportExternal(info.Env(), accountedBytes);
}

void TensorHandle::Release(Napi::Env env) {
  if (disposed) return;
  disposed = true;
  auto& c = counters();
  c.live--;
  c.liveBytes -= accountedBytes;
  if (accountedBytes > 0 && tensor.device().is_cpu()) ReportExternal(env, -accountedBytes);
  tensor = at::Tensor();
}

void TensorHandle::Finalize(Napi::Env env) { Release(env); }

Napi::Value Wrap(Napi::Env env, at::Tensor t) {
  if (!t.defined()) return env.Null();
  at::Tensor tmp = std::move(t);
  auto ext = Napi::External<at::Tensor>::New(env, &tmp);
  return TensorHandle::constructor->New({ext});
}

Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts) {
  auto arr = Napi::Array::New(env, ts.size());
  for (size_t i = 0; i < ts.size(); i++) arr.Set(i, Wrap(env, ts[i]));
  return arr;
}

bool IsTensor(const Napi::Value& v) {
  if (!v.IsObject()) return false;
  bool tagged = false;
  napi_check_object_type_tag(v.Env(), v, &kTensorTag, &tagged);
  return tagged;
}

// Unwraps argument i; the type tag proves the object is one of our handles (cheaper than
// instanceof, and safe against objects wrapped by other addons).
static TensorHandle* Handle(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !IsTensor(info[i])) throw ArgError("argument " + std::to_string(i) + " must be a Tensor");
  TensorHandle* h = nullptr;
  napi_unwrap(info.Env(), info[i], reinterpret_cast<void**>(&h));
  if (h->disposed) throw ArgError("argument " + std::to_string(i) + " is a disposed Tensor (it was freed by dispose() or tidy(); keep() it to use it later)");
  return h;
}

at::Tensor& T(const Napi::CallbackInfo& info, size_t i) { return Handle(info, i)->tensor; }

std::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return T(info, i);
}

std::vector<at::Tensor> TList(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray()) throw ArgError("argument " + std::to_string(i) + " must be an array of Tensors");
  auto arr = info[i].As<Napi::Array>();
  std::vector<at::Tensor> out;
  out.reserve(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!IsTensor(v)) throw ArgError("argument " + std::to_string(i) + "[" + std::to_string(k) + "] must be a Tensor");
    auto* h = TensorHandle::Unwrap(v.As<Napi::Object>());
    if (h->disposed) throw ArgError("argument " + std::to_string(i) + "[" + std::to_string(k) + "] is a disposed Tensor");
    out.push_back(h->tensor);
  }
  return out;
}

int64_t I64(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length()) throw ArgError("missing argument " + std::to_string(i));
  if (info[i].IsBigInt()) {
    bool lossless;
    return info[i].As<Napi::BigInt>().Int64Value(&lossless);
  }
  if (!info[i].IsNumber()) throw ArgError("argument " + std::to_string(i) + " must be an integer");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d != static_cast<double>(static_cast<int64_t>(d))) throw ArgError("argument " + std::to_string(i) + " must be an integer, got " + std::to_string(d));
  return static_cast<int64_t>(d);
}

std::optional<int64_t> OptI64(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return I64(info, i);
}

double F64(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsNumber()) throw ArgError("argument " + std::to_string(i) + " must be a number");
  return info[i].As<Napi::Number>().DoubleValue();
}

std::optional<double> OptF64(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return F64(info, i);
}

bool Bool(const Napi::CallbackInfo& info, size_t i, bool dflt) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return dflt;
  if (!info[i].IsBoolean()) throw ArgError("argument " + std::to_string(i) + " must be a boolean");
  return info[i].As<Napi::Boolean>().Value();
}

std::string Str(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsString()) throw ArgError("argument " + std::to_string(i) + " must be a string");
  return info[i].As<Napi::String>().Utf8Value();
}

std::vector<int64_t> IList(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsNumber()) return {I64(info, i)};
  if (i >= info.Length() || !info[i].IsArray()) throw ArgError("argument " + std::to_string(i) + " must be an array of integers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<int64_t> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw ArgError("argument " + std::to_string(i) + "[" + std::to_string(k) + "] must be an integer");
    double d = v.As<Napi::Number>().DoubleValue();
    if (d != static_cast<double>(static_cast<int64_t>(d))) throw ArgError("argument " + std::to_string(i) + "[" + std::to_string(k) + "] must be an integer");
    out[k] = static_cast<int64_t>(d);
  }
  return out;
}

std::optional<std::vector<int64_t>> OptIList(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return IList(info, i);
}

std::vector<double> FList(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || !info[i].IsArray()) throw ArgError("argument " + std::to_string(i) + " must be an array of numbers");
  auto arr = info[i].As<Napi::Array>();
  std::vector<double> out(arr.Length());
  for (uint32_t k = 0; k < arr.Length(); k++) {
    Napi::Value v = arr.Get(k);
    if (!v.IsNumber()) throw ArgError("argument " + std::to_string(i) + "[" + std::to_string(k) + "] must be a number");
    out[k] = v.As<Napi::Number>().DoubleValue();
  }
  return out;
}

at::Scalar Sc(const Napi::CallbackInfo& info, size_t i) {
  if (i < info.Length() && info[i].IsBoolean()) return at::Scalar(info[i].As<Napi::Boolean>().Value());
  if (i < info.Length() && info[i].IsBigInt()) {
    bool lossless;
    return at::Scalar(static_cast<int64_t>(info[i].As<Napi::BigInt>().Int64Value(&lossless)));
  }
  // Integer-valued JS numbers become integral Scalars, as Python's int literals do, so that
  // int_tensor.add_(1) keeps its dtype while float tensors still promote as usual.
  double d = F64(info, i);
  if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9007199254740992.0) return at::Scalar(static_cast<int64_t>(d));
  return at::Scalar(d);
}

static at::ScalarType DtypeOf(int64_t code) {
  switch (code) {
    case 0: return at::kByte;
    case 1: return at::kChar;
    case 2: return at::kShort;
    case 3: return at::kInt;
    case 4: return at::kLong;
    case 5: return at::kHalf;
    case 6: return at::kFloat;
    case 7: return at::kDouble;
    case 11: return at::kBool;
    case 15: return at::kBFloat16;
    default: throw ArgError("unsupported dtype code " + std::to_string(code));
  }
}

at::ScalarType Dtype(const Napi::CallbackInfo& info, size_t i) { return DtypeOf(I64(info, i)); }

std::optional<at::ScalarType> OptDtype(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return std::nullopt;
  return Dtype(info, i);
}

at::Device Dev(const Napi::CallbackInfo& info, size_t i) {
  if (i >= info.Length() || info[i].IsNull() || info[i].IsUndefined()) return at::Device(at::kCPU);
  std::string s = Str(info, i);
  try {
    return at::Device(s);
  } catch (const c10::Error&) {
    throw ArgError("invalid device '" + s + "' (expected 'cpu', 'cuda' or 'cuda:N')");
  }
}

at::TensorOptions Opts(const Napi::CallbackInfo& info, size_t dtypeIdx, size_t devIdx) {
  auto o = at::TensorOptions().device(Dev(info, devIdx));
  auto dt = OptDtype(info, dtypeIdx);
  return o.dtype(dt ? *dt : at::kFloat);
}

std::string CleanMessage(const c10::Error& e) {
  std::string m = e.what_without_backtrace();
  // libtorch appends "Exception raised from ... (most recent call first)" lines in some
  // builds; keep the first meaningful paragraph only.
  auto pos = m.find("\nException raised from");
  if (pos != std::string::npos) m = m.substr(0, pos);
  while (!m.empty() && (m.back() == '\n' || m.back() == ' ')) m.pop_back();
  return m;
}

// ---------------------------------------------------------------- tensor metadata
TVS_FN(shape) {
  TVS_PROTECT("shape", {
    auto& t = T(info, 0);
    auto arr = Napi::Array::New(info.Env(), t.dim());
    for (int64_t d = 0; d < t.dim(); d++) arr.Set(static_cast<uint32_t>(d), Napi::Number::New(info.Env(), static_cast<double>(t.size(d))));
    return arr;
  })
  return info.Env().Undefined();
}
TVS_FN(dtype) { TVS_PROTECT("dtype", { return Napi::Number::New(info.Env(), static_cast<int>(T(info, 0).scalar_type())); }) return info.Env().Undefined(); }
TVS_FN(device) { TVS_PROTECT("device", { return Napi::String::New(info.Env(), T(info, 0).device().str()); }) return info.Env().Undefined(); }
TVS_FN(requiresGrad) { TVS_PROTECT("requiresGrad", { return Napi::Boolean::New(info.Env(), T(info, 0).requires_grad()); }) return info.Env().Undefined(); }
TVS_FN(isContiguous) { TVS_PROTECT("isContiguous", { return Napi::Boolean::New(info.Env(), T(info, 0).is_contiguous()); }) return info.Env().Undefined(); }
TVS_FN(isLeaf) { TVS_PROTECT("isLeaf", { return Napi::Boolean::New(info.Env(), T(info, 0).is_leaf()); }) return info.Env().Undefined(); }
TVS_FN(numel) { TVS_PROTECT("numel", { return Napi::Number::New(info.Env(), static_cast<double>(T(info, 0).numel())); }) return info.Env().Undefined(); }
TVS_FN(isDisposed) {
  if (info.Length() < 1 || !IsTensor(info[0])) throw Napi::TypeError::New(info.Env(), "isDisposed: argument 0 must be a Tensor");
  return Napi::Boolean::New(info.Env(), TensorHandle::Unwrap(info[0].As<Napi::Object>())->disposed);
}
TVS_FN(dispose) {
  if (info.Length() < 1 || !IsTensor(info[0])) throw Napi::TypeError::New(info.Env(), "dispose: argument 0 must be a Tensor");
  TensorHandle::Unwrap(info[0].As<Napi::Object>())->Release(info.Env());
  return info.Env().Undefined();
}
TVS_FN(item) {
  TVS_PROTECT("item", {
    auto& t = T(info, 0);
    if (t.numel() != 1) throw ArgError("item() needs a tensor with one element, got shape " + c10::str(t.sizes()));
    auto s = t.item();
    if (s.isBoolean()) return Napi::Boolean::New(info.Env(), s.toBool());
    if (s.isIntegral(false)) return Napi::Number::New(info.Env(), static_cast<double>(s.toLong()));
    return Napi::Number::New(info.Env(), s.toDouble());
  })
  return info.Env().Undefined();
}
TVS_FN(memoryStats) {
  auto& c = counters();
  auto o = Napi::Object::New(info.Env());
  o.Set("liveTensors", static_cast<double>(c.live));
  o.Set("peakTensors", static_cast<double>(c.peak));
  o.Set("liveBytes", static_cast<double>(c.liveBytes));
  o.Set("peakBytes", static_cast<double>(c.peakBytes));
  return o;
}
TVS_FN(resetPeak) {
  auto& c = counters();
  c.peak = c.live;
  c.peakBytes = c.liveBytes;
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- data transfer
// fromBuffer(typedArrayOrBuffer, shape, dtype, device): copies the bytes (JS may detach or
// reuse its buffer, so sharing it would be unsafe).
TVS_FN(fromBuffer) {
  TVS_PROTECT("fromBuffer", {
    if (info.Length() < 1 || !info[0].IsTypedArray()) throw ArgError("argument 0 must be a TypedArray or Buffer");
    auto ta = info[0].As<Napi::TypedArray>();
    auto shape = IList(info, 1);
    auto dt = Dtype(info, 2);
    auto dev = Dev(info, 3);
    int64_t n = 1;
    for (auto s : shape) {
      if (s < 0) throw ArgError("negative dimension in shape " + c10::str(at::IntArrayRef(shape)));
      n *= s;
    }
    size_t need = static_cast<size_t>(n) * c10::elementSize(dt);
    size_t have = ta.ByteLength();
    if (need != have) throw ArgError("buffer holds " + std::to_string(have) + " bytes but shape " + c10::str(at::IntArrayRef(shape)) + " of " + c10::toString(dt) + " needs " + std::to_string(need));
    auto t = at::empty(shape, at::TensorOptions().dtype(dt));
    if (need > 0) {
      auto ab = ta.ArrayBuffer();
      std::memcpy(t.data_ptr(), static_cast<uint8_t*>(ab.Data()) + ta.ByteOffset(), need);
    }
    if (!dev.is_cpu()) t = t.to(dev);
    return Wrap(info.Env(), t);
  })
  return info.Env().Undefined();
}

// toBuffer(t): a fresh ArrayBuffer holding a contiguous CPU copy of the data.
TVS_FN(toBuffer) {
  TVS_PROTECT("toBuffer", {
    at::Tensor t = T(info, 0).detach();
    if (!t.device().is_cpu()) t = t.to(at::kCPU);
    t = t.contiguous();
    size_t n = static_cast<size_t>(t.numel()) * t.element_size();
    auto ab = Napi::ArrayBuffer::New(info.Env(), n);
    if (n > 0) std::memcpy(ab.Data(), t.data_ptr(), n);
    return ab;
  })
  return info.Env().Undefined();
}

// viewBuffer(t): zero-copy ArrayBuffer over a contiguous CPU tensor's memory. The buffer
// keeps its own reference to the tensor, so it stays valid after the tensor is disposed.
TVS_FN(viewBuffer) {
  TVS_PROTECT("viewBuffer", {
    at::Tensor& t = T(info, 0);
    if (!t.device().is_cpu() || !t.is_contiguous()) throw ArgError("viewBuffer needs a contiguous CPU tensor (use contiguous() / to('cpu') first)");
    auto* keep = new at::Tensor(t.detach());
    size_t n = static_cast<size_t>(keep->numel()) * keep->element_size();
    if (n == 0) {
      delete keep;
      return Napi::ArrayBuffer::New(info.Env(), 0);
    }
    return Napi::ArrayBuffer::New(info.Env(), keep->data_ptr(), n, [](Napi::Env, void*, at::Tensor* k) { delete k; }, keep);
  })
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- creation
TVS_OP(zeros, at::zeros(IList(info, 0), Opts(info, 1, 2)))
TVS_OP(ones, at::ones(IList(info, 0), Opts(info, 1, 2)))
TVS_OP(empty, at::empty(IList(info, 0), Opts(info, 1, 2)))
TVS_OP(full, at::full(IList(info, 0), Sc(info, 1), Opts(info, 2, 3)))
TVS_OP(arange, at::arange(Sc(info, 0), Sc(info, 1), Sc(info, 2), Opts(info, 3, 4)))
TVS_OP(eye, at::eye(I64(info, 0), Opts(info, 1, 2)))
TVS_OP(linspace, at::linspace(Sc(info, 0), Sc(info, 1), I64(info, 2), Opts(info, 3, 4)))
TVS_OP(scalarTensor, at::scalar_tensor(Sc(info, 0), Opts(info, 1, 2)))
TVS_OP(zerosLike, at::zeros_like(T(info, 0)))
TVS_OP(onesLike, at::ones_like(T(info, 0)))
TVS_OP(fullLike, at::full_like(T(info, 0), Sc(info, 1)))
TVS_OP(randn, at::randn(IList(info, 0), Opts(info, 1, 2)))
TVS_OP(rand, at::rand(IList(info, 0), Opts(info, 1, 2)))
TVS_OP(randint, at::randint(I64(info, 0), I64(info, 1), IList(info, 2), Opts(info, 3, 4).dtype(OptDtype(info, 3).value_or(at::kLong))))
TVS_OP(randperm, at::randperm(I64(info, 0), Opts(info, 1, 2).dtype(OptDtype(info, 1).value_or(at::kLong))))
TVS_OP(bernoulli, at::bernoulli(T(info, 0)))
TVS_FN(normal_) { TVS_PROTECT("normal_", { T(info, 0).normal_(F64(info, 1), F64(info, 2)); return info[0]; }) return info.Env().Undefined(); }
TVS_FN(uniform_) { TVS_PROTECT("uniform_", { T(info, 0).uniform_(F64(info, 1), F64(info, 2)); return info[0]; }) return info.Env().Undefined(); }
TVS_FN(manualSeed) {
  TVS_PROTECT("manualSeed", {
    at::manual_seed(static_cast<uint64_t>(I64(info, 0)));  // seeds CPU and every CUDA generator
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- conversion / copies
TVS_FN(to) {
  TVS_PROTECT("to", {
    auto& t = T(info, 0);
    auto dt = OptDtype(info, 1);
    at::Device dev = (info.Length() > 2 && info[2].IsString()) ? Dev(info, 2) : t.device();
    return Wrap(info.Env(), t.to(dev, dt ? *dt : t.scalar_type(), /*non_blocking=*/false, /*copy=*/false));
  })
  return info.Env().Undefined();
}
TVS_OP(clone, T(info, 0).clone())
TVS_OP(detach, T(info, 0).detach())
TVS_OP(contiguous, T(info, 0).contiguous())
TVS_FN(copy_) { TVS_PROTECT("copy_", { T(info, 0).copy_(T(info, 1)); return info[0]; }) return info.Env().Undefined(); }
TVS_FN(zero_) { TVS_PROTECT("zero_", { T(info, 0).zero_(); return info[0]; }) return info.Env().Undefined(); }
// setData(t, src): t's identity stays, its data becomes src's (nn.Module.to / param.data = ...).
TVS_FN(setData) {
  TVS_PROTECT("setData", {
    auto& t = T(info, 0);
    auto& src = T(info, 1);
    auto* hd = TensorHandle::Unwrap(info[0].As<Napi::Object>());
    auto& c = counters();
    int64_t nb = static_cast<int64_t>(src.numel() * src.element_size());
    c.liveBytes += nb - hd->accountedBytes;
    hd->accountedBytes = nb;
    t.set_data(src);
    return info[0];
  })
  return info.Env().Undefined();
}
TVS_FN(fill_) { TVS_PROTECT("fill_", { T(info, 0).fill_(Sc(info, 1)); return info[0]; }) return info.Env().Undefined(); }

// ---------------------------------------------------------------- autograd
TVS_FN(setRequiresGrad) {
  TVS_PROTECT("requiresGrad_", { T(info, 0).requires_grad_(Bool(info, 1, true)); return info[0]; })
  return info.Env().Undefined();
}
TVS_FN(grad) {
  TVS_PROTECT("grad", {
    const auto& g = T(info, 0).grad();
    if (!g.defined()) return info.Env().Null();
    return Wrap(info.Env(), g);
  })
  return info.Env().Undefined();
}
TVS_FN(setGrad) {
  TVS_PROTECT("setGrad", {
    auto& t = T(info, 0);
    auto g = OptT(info, 1);
    t.mutable_grad() = g ? *g : at::Tensor();
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}
TVS_FN(backward) {
  TVS_PROTECT("backward", {
    auto& t = T(info, 0);
    auto g = OptT(info, 1);
    bool retain = Bool(info, 2, false);
    if (!t.requires_grad()) throw ArgError("backward() on a tensor that does not require grad (no trainable tensor reaches it, or it was computed under noGrad)");
    t.backward(g ? *g : at::Tensor(), retain);
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}
TVS_FN(setGradEnabled) {
  bool prev = at::GradMode::is_enabled();
  at::GradMode::set_enabled(info.Length() > 0 && info[0].ToBoolean().Value());
  return Napi::Boolean::New(info.Env(), prev);
}
TVS_FN(isGradEnabled) { return Napi::Boolean::New(info.Env(), at::GradMode::is_enabled()); }

// ---------------------------------------------------------------- runtime config
TVS_FN(setNumThreads) {
  TVS_PROTECT("setNumThreads", {
    auto n = I64(info, 0);
    if (n < 1) throw ArgError("thread count must be >= 1");
    at::set_num_threads(static_cast<int>(n));
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}
TVS_FN(synchronize) {
  TVS_PROTECT("synchronize", {
    if (at::globalContext().hasCUDA()) torch::cuda::synchronize(info.Length() > 0 && info[0].IsNumber() ? I64(info, 0) : -1);
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}
TVS_FN(getNumThreads) { return Napi::Number::New(info.Env(), at::get_num_threads()); }
TVS_FN(config) {
  auto env = info.Env();
  auto o = Napi::Object::New(env);
  o.Set("version", std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH));
  o.Set("parallelInfo", at::get_parallel_info());
  o.Set("buildConfig", at::show_config());
  o.Set("threads", at::get_num_threads());
  bool cuda = at::globalContext().hasCUDA();
  o.Set("cudaAvailable", cuda);
  o.Set("cudaDeviceCount", cuda ? static_cast<double>(torch::cuda::device_count()) : 0.0);
  o.Set("cxx11Abi", static_cast<bool>(_GLIBCXX_USE_CXX11_ABI));
  return o;
}

void InitTensor(Napi::Env env, Napi::Object exports) {
  TensorHandle::Init(env, exports);
  TVS_EXPORT(shape); TVS_EXPORT(dtype); TVS_EXPORT(device); TVS_EXPORT(requiresGrad);
  TVS_EXPORT(isContiguous); TVS_EXPORT(isLeaf); TVS_EXPORT(numel); TVS_EXPORT(isDisposed);
  TVS_EXPORT(dispose); TVS_EXPORT(item); TVS_EXPORT(memoryStats); TVS_EXPORT(resetPeak);
  TVS_EXPORT(fromBuffer); TVS_EXPORT(toBuffer); TVS_EXPORT(viewBuffer);
  TVS_EXPORT(zeros); TVS_EXPORT(ones); TVS_EXPORT(empty); TVS_EXPORT(full); TVS_EXPORT(arange);
  TVS_EXPORT(eye); TVS_EXPORT(linspace); TVS_EXPORT(scalarTensor); TVS_EXPORT(zerosLike);
  TVS_EXPORT(onesLike); TVS_EXPORT(fullLike); TVS_EXPORT(randn); TVS_EXPORT(rand); TVS_EXPORT(randint);
  TVS_EXPORT(randperm); TVS_EXPORT(bernoulli); TVS_EXPORT(normal_); TVS_EXPORT(uniform_); TVS_EXPORT(manualSeed);
  TVS_EXPORT(to); TVS_EXPORT(clone); TVS_EXPORT(detach); TVS_EXPORT(contiguous); TVS_EXPORT(copy_);
  TVS_EXPORT(zero_); TVS_EXPORT(fill_); TVS_EXPORT(setData);
  TVS_EXPORT(setRequiresGrad); TVS_EXPORT(grad); TVS_EXPORT(setGrad); TVS_EXPORT(backward);
  TVS_EXPORT(setGradEnabled); TVS_EXPORT(isGradEnabled);
  TVS_EXPORT(setNumThreads); TVS_EXPORT(synchronize); TVS_EXPORT(getNumThreads); TVS_EXPORT(config);
}

}  // namespace tvs
