// Shared helpers of the tunevlseg native addon: the Tensor handle class, argument
// conversion and the PROTECT boundary that turns every C++ exception into a JS Error.
// This layer is deliberately thin: it exposes libtorch ops one-to-one, no model logic.
#pragma once

#include <napi.h>
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <torch/version.h>

#include <optional>
#include <string>
#include <vector>

namespace tvs {

// A JS-visible handle owning one reference to an at::Tensor. Disposing drops the reference
// early (deterministic memory); the GC finalizer is the backstop.
class TensorHandle : public Napi::ObjectWrap<TensorHandle> {
 public:
  static Napi::FunctionReference* constructor;
  static void Init(Napi::Env env, Napi::Object exports);
  explicit TensorHandle(const Napi::CallbackInfo& info);
  void Finalize(Napi::Env env) override;

  at::Tensor tensor;
  bool disposed = false;
  int64_t accountedBytes = 0;

  void Release(Napi::Env env);
};

// Live-object counters (exposed as liveTensors()/peak for leak tests).
struct Counters {
  int64_t live = 0;
  int64_t peak = 0;
  int64_t liveBytes = 0;
  int64_t peakBytes = 0;
};
Counters& counters();

// Error raised for bad arguments from JS (converted to TypeError at the boundary).
struct ArgError : std::exception {
  std::string msg;
  explicit ArgError(std::string m) : msg(std::move(m)) {}
  const char* what() const noexcept override { return msg.c_str(); }
};

Napi::Value Wrap(Napi::Env env, at::Tensor t);
at::Tensor& T(const Napi::CallbackInfo& info, size_t i);
std::optional<at::Tensor> OptT(const Napi::CallbackInfo& info, size_t i);
std::vector<at::Tensor> TList(const Napi::CallbackInfo& info, size_t i);
int64_t I64(const Napi::CallbackInfo& info, size_t i);
std::optional<int64_t> OptI64(const Napi::CallbackInfo& info, size_t i);
double F64(const Napi::CallbackInfo& info, size_t i);
std::optional<double> OptF64(const Napi::CallbackInfo& info, size_t i);
bool Bool(const Napi::CallbackInfo& info, size_t i, bool dflt = false);
std::string Str(const Napi::CallbackInfo& info, size_t i);
std::vector<int64_t> IList(const Napi::CallbackInfo& info, size_t i);
std::optional<std::vector<int64_t>> OptIList(const Napi::CallbackInfo& info, size_t i);
std::vector<double> FList(const Napi::CallbackInfo& info, size_t i);
at::Scalar Sc(const Napi::CallbackInfo& info, size_t i);
bool IsTensor(const Napi::Value& v);
at::ScalarType Dtype(const Napi::CallbackInfo& info, size_t i);
std::optional<at::ScalarType> OptDtype(const Napi::CallbackInfo& info, size_t i);
at::Device Dev(const Napi::CallbackInfo& info, size_t i);
at::TensorOptions Opts(const Napi::CallbackInfo& info, size_t dtypeIdx, size_t devIdx);
Napi::Value WrapList(Napi::Env env, const std::vector<at::Tensor>& ts);

// Every exported op body runs inside PROTECT: libtorch's c10::Error (shape, dtype, device
// mismatches...) and any std::exception become a JS Error whose message starts with the op
// name. Nothing may escape as a C++ exception and abort the process.
std::string CleanMessage(const c10::Error& e);

#define TVS_PROTECT(OPNAME, ...)                                                   \
  try {                                                                             \
    __VA_ARGS__                                                                     \
  } catch (const Napi::Error&) {                                                    \
    throw;                                                                          \
  } catch (const ::tvs::ArgError& e) {                                              \
    throw Napi::TypeError::New(info.Env(), std::string(OPNAME) + ": " + e.msg);     \
  } catch (const c10::Error& e) {                                                   \
    throw Napi::Error::New(info.Env(), std::string(OPNAME) + ": " + ::tvs::CleanMessage(e)); \
  } catch (const std::exception& e) {                                               \
    throw Napi::Error::New(info.Env(), std::string(OPNAME) + ": " + e.what());     \
  }

// Defines an exported function `NAME` returning a JS value computed by BODY (which can
// use `info` and `env`).
#define TVS_FN(NAME) static Napi::Value NAME(const Napi::CallbackInfo& info)
#define TVS_OP(NAME, EXPR) \
  TVS_FN(NAME) { auto env = info.Env(); TVS_PROTECT(#NAME, { return Wrap(env, (EXPR)); }) return env.Undefined(); }
#define TVS_EXPORT(NAME) exports.Set(#NAME, Napi::Function::New(env, NAME, #NAME))

void InitTensor(Napi::Env env, Napi::Object exports);
void InitMath(Napi::Env env, Napi::Object exports);
void InitNN(Napi::Env env, Napi::Object exports);
void InitShape(Napi::Env env, Napi::Object exports);
void InitSerialize(Napi::Env env, Napi::Object exports);
void InitAmp(Napi::Env env, Napi::Object exports);
void InitProfile(Napi::Env env, Napi::Object exports);
void InitFused(Napi::Env env, Napi::Object exports);
void InitOptim(Napi::Env env, Napi::Object exports);

// Whether autocast is on for a device type (amp.cc): fused ops fall back to their composition then.
bool AutocastEnabled(at::DeviceType d);

}  // namespace tvs
