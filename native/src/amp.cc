// Mixed precision and device-memory controls: autocast state per device type (the same
// thread-local switches torch.autocast flips), the TF32 / cuDNN flags, and the CUDA caching
// allocator's statistics. The policy (which precision, when to scale the loss) lives in TS.
#include "common.h"

#include <ATen/Context.h>
#include <ATen/autocast_mode.h>

#ifndef TVS_CUDA
#define TVS_CUDA 0
#endif
#if TVS_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAGuard.h>
#include <cuda_runtime_api.h>
#endif

// libtorch 2.4 replaced the per-device autocast functions (set_enabled, set_cpu_enabled,
// set_autocast_gpu_dtype...) by ones taking the device type; the old names linger deprecated.
#define TVS_AUTOCAST_BY_DEVICE (TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 4))

namespace tvs {

static at::DeviceType AmpDevice(const Napi::CallbackInfo& info, size_t i) {
  std::string s = Str(info, i);
  if (s == "cpu") return at::kCPU;
  if (s == "cuda") return at::kCUDA;
  throw ArgError("autocast device type must be 'cpu' or 'cuda', got '" + s + "'");
}

bool AutocastEnabled(at::DeviceType d) {
#if TVS_AUTOCAST_BY_DEVICE
  return at::autocast::is_autocast_enabled(d);
#else
  return d == at::kCUDA ? at::autocast::is_enabled() : at::autocast::is_cpu_enabled();
#endif
}
static void SetAutocastEnabled(at::DeviceType d, bool on) {
#if TVS_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_enabled(d, on);
#else
  if (d == at::kCUDA) at::autocast::set_enabled(on);
  else at::autocast::set_cpu_enabled(on);
#endif
}
static at::ScalarType AutocastDtype(at::DeviceType d) {
#if TVS_AUTOCAST_BY_DEVICE
  return at::autocast::get_autocast_dtype(d);
#else
  return d == at::kCUDA ? at::autocast::get_autocast_gpu_dtype() : at::autocast::get_autocast_cpu_dtype();
#endif
}
static void SetAutocastDtype(at::DeviceType d, at::ScalarType dt) {
#if TVS_AUTOCAST_BY_DEVICE
  at::autocast::set_autocast_dtype(d, dt);
#else
  if (d == at::kCUDA) at::autocast::set_autocast_gpu_dtype(dt);
  else at::autocast::set_autocast_cpu_dtype(dt);
#endif
}

static Napi::Object AutocastStateOf(Napi::Env env, at::DeviceType d) {
  auto o = Napi::Object::New(env);
  o.Set("enabled", AutocastEnabled(d));
  o.Set("dtype", static_cast<int>(AutocastDtype(d)));
  return o;
}

// autocastState(deviceType) -> { enabled, dtype }
TVS_FN(autocastState) {
  TVS_PROTECT("autocastState", { return AutocastStateOf(info.Env(), AmpDevice(info, 0)); })
  return info.Env().Undefined();
}

// autocastEnter(deviceType, enabled, dtype) -> the previous { enabled, dtype }. Like
// torch.autocast.__enter__: sets the switches and counts the nesting level.
TVS_FN(autocastEnter) {
  TVS_PROTECT("autocastEnter", {
    auto d = AmpDevice(info, 0);
    bool on = Bool(info, 1, true);
    auto dt = Dtype(info, 2);
    if (dt != at::kHalf && dt != at::kBFloat16) throw ArgError("autocast dtype must be float16 or bfloat16, got " + std::string(c10::toString(dt)));
    auto prev = AutocastStateOf(info.Env(), d);
    SetAutocastEnabled(d, on);
    SetAutocastDtype(d, dt);
    at::autocast::increment_nesting();
    return prev;
  })
  return info.Env().Undefined();
}

// autocastExit(deviceType, prevEnabled, prevDtype): restores the switches; leaving the
// outermost region drops the cache of low-precision weight copies (as torch.autocast does:
// after an optimizer step those copies would be stale).
TVS_FN(autocastExit) {
  TVS_PROTECT("autocastExit", {
    auto d = AmpDevice(info, 0);
    bool on = Bool(info, 1, false);
    auto dt = Dtype(info, 2);
    if (at::autocast::decrement_nesting() == 0) at::autocast::clear_cache();
    SetAutocastEnabled(d, on);
    SetAutocastDtype(d, dt);
    return info.Env().Undefined();
  })
  return info.Env().Undefined();
}

// ---------------------------------------------------------------- TF32 and cuDNN flags
TVS_FN(cudaFlags) {
  auto env = info.Env();
  TVS_PROTECT("cudaFlags", {
    auto& ctx = at::globalContext();
    auto o = Napi::Object::New(env);
    o.Set("tf32Matmul", ctx.allowTF32CuBLAS());
    o.Set("tf32Cudnn", ctx.allowTF32CuDNN());
    o.Set("cudnnBenchmark", ctx.benchmarkCuDNN());
    return o;
  })
  return env.Undefined();
}
// setCudaFlags({ tf32Matmul?, tf32Cudnn?, cudnnBenchmark? }): sets the keys present.
TVS_FN(setCudaFlags) {
  auto env = info.Env();
  TVS_PROTECT("setCudaFlags", {
    if (info.Length() < 1 || !info[0].IsObject()) throw ArgError("argument 0 must be an object");
    auto o = info[0].As<Napi::Object>();
    auto& ctx = at::globalContext();
    if (o.Has("tf32Matmul")) ctx.setAllowTF32CuBLAS(o.Get("tf32Matmul").ToBoolean().Value());
    if (o.Has("tf32Cudnn")) ctx.setAllowTF32CuDNN(o.Get("tf32Cudnn").ToBoolean().Value());
    if (o.Has("cudnnBenchmark")) ctx.setBenchmarkCuDNN(o.Get("cudnnBenchmark").ToBoolean().Value());
    return env.Undefined();
  })
  return env.Undefined();
}

// ---------------------------------------------------------------- CUDA allocator
// Built only when the CUDA runtime headers were found (find-libtorch.cjs --defines); a
// CPU-only build answers "not available" instead of failing to load.
TVS_FN(cudaMemory) {
  auto env = info.Env();
  TVS_PROTECT("cudaMemory", {
#if TVS_CUDA
    auto dev = static_cast<int>(I64(info, 0));
    auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(dev);
    auto o = Napi::Object::New(env);
    o.Set("allocated", static_cast<double>(stats.allocated_bytes[0].current));
    o.Set("peakAllocated", static_cast<double>(stats.allocated_bytes[0].peak));
    o.Set("reserved", static_cast<double>(stats.reserved_bytes[0].current));
    o.Set("peakReserved", static_cast<double>(stats.reserved_bytes[0].peak));
    size_t freeB = 0, totalB = 0;
    {
      c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(dev));
      if (cudaMemGetInfo(&freeB, &totalB) != cudaSuccess) throw std::runtime_error("cudaMemGetInfo failed");
    }
    o.Set("free", static_cast<double>(freeB));
    o.Set("total", static_cast<double>(totalB));
    return o;
#else
    return env.Null();
#endif
  })
  return env.Undefined();
}
TVS_FN(cudaResetPeakMemory) {
  auto env = info.Env();
  TVS_PROTECT("cudaResetPeakMemory", {
#if TVS_CUDA
    c10::cuda::CUDACachingAllocator::resetPeakStats(static_cast<int>(I64(info, 0)));
    return Napi::Boolean::New(env, true);
#else
    return Napi::Boolean::New(env, false);
#endif
  })
  return env.Undefined();
}
// cudaEmptyCache(): hands cached, unused blocks back to the driver (between sweep trials).
TVS_FN(cudaEmptyCache) {
  auto env = info.Env();
  TVS_PROTECT("cudaEmptyCache", {
#if TVS_CUDA
    if (at::globalContext().hasCUDA()) {
      c10::cuda::CUDACachingAllocator::emptyCache();
      return Napi::Boolean::New(env, true);
    }
#endif
    return Napi::Boolean::New(env, false);
  })
  return env.Undefined();
}
TVS_FN(cudaAllocatorBuilt) { return Napi::Boolean::New(info.Env(), TVS_CUDA != 0); }

void InitAmp(Napi::Env env, Napi::Object exports) {
  TVS_EXPORT(autocastState); TVS_EXPORT(autocastEnter); TVS_EXPORT(autocastExit);
  TVS_EXPORT(cudaFlags); TVS_EXPORT(setCudaFlags);
  TVS_EXPORT(cudaMemory); TVS_EXPORT(cudaResetPeakMemory); TVS_EXPORT(cudaEmptyCache); TVS_EXPORT(cudaAllocatorBuilt);
}

}  // namespace tvs
