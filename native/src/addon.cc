// Entry point of the tunevlseg native addon (libtorch bound through Node-API).
#include "common.h"

#include <cstdint>
#include <cstdlib>
#include <cstring>
#if defined(__GLIBC__)
#include <malloc.h>
#include <c10/core/CPUAllocator.h>
#endif

#if defined(__GLIBC__)
// CPU tensor memory from plain malloc(), aligned by hand. c10's default allocator calls
// posix_memalign(64, n); glibc before 2.38 (Debian 12 has 2.36) serves that with
// malloc(n + 64 + MINSIZE) and cuts the aligned piece out, so a freed block of n can never
// serve the next memalign of n when something small and long-lived sits next to it (in a
// synchronous loop: Node-API finalizer records, freed only when the event loop turns). Every
// heap-served tensor then leaves a hole that is never reused and RSS grows without bound while
// live tensors stay flat. Measured, Linear 32->256 on [1024,32] + relu under noGrad, one thread:
// +1.2 GB per 600 steps, sbrk heap 1,042 MB of which 2 MB in use; the 2,000-step MLP of
// test/torch-memory.test.ts: +15-25 MB per 600 steps. malloc(n + 72) of the same n refits its
// own freed block exactly: both stay flat. Same contract as c10's allocator: 64-byte alignment,
// context == data (raw_allocate works), c10::Error when out of memory, the profiler's memory
// reporter told of each block. (libtorch 2.x's optional THP_MEM_ALLOC_ENABLE path is not kept.)
namespace {
constexpr size_t kAlign = 64;  // c10::gAlignment with AVX-512 kernels

// The block malloc() returned is stored just before the aligned data.
void FreeAligned(void* data) {
  if (data == nullptr) return;
  c10::profiledCPUMemoryReporter().Delete(data);
  std::free(static_cast<void**>(data)[-1]);
}

c10::DataPtr AllocateAligned(size_t n) {
  const c10::Device cpu(c10::DeviceType::CPU);
  if (n == 0) return {nullptr, nullptr, &FreeAligned, cpu};
  constexpr size_t extra = kAlign + sizeof(void*);
  void* raw = n <= SIZE_MAX - extra ? std::malloc(n + extra) : nullptr;
  if (raw == nullptr) c10::profiledCPUMemoryReporter().OutOfMemory(n);
  TORCH_CHECK(raw != nullptr, "DefaultCPUAllocator: not enough memory: you tried to allocate ", n, " bytes.");
  void* data = reinterpret_cast<void*>((reinterpret_cast<uintptr_t>(raw) + sizeof(void*) + kAlign - 1) & ~(kAlign - 1));
  static_cast<void**>(data)[-1] = raw;
  c10::profiledCPUMemoryReporter().New(data, n);
  return {data, data, &FreeAligned, cpu};
}

// libtorch 1.13 declares `allocate(size_t) const`, 2.x `allocate(size_t)` and a pure
// `copy_data`: each member below overrides where its base has it and is an unused extra where
// not, so one source builds against both (hence no `override` on them).
struct AlignedMallocAllocator final : c10::Allocator {
  c10::DataPtr allocate(size_t n) const { return AllocateAligned(n); }
  c10::DataPtr allocate(size_t n) { return AllocateAligned(n); }
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }
  c10::DeleterFnPtr raw_deleter() const override { return &FreeAligned; }
};
}  // namespace
#endif

// glibc serves allocations above its mmap threshold with fresh mmap()s and returns them with
// munmap(): every large activation then costs page faults and zeroing (measured: relu on an
// 11 MB tensor 110 ms vs 2.7 ms). Python gets a dynamic threshold (up to 32 MB) that Node
// never reaches; we fix it high once at load, like MALLOC_MMAP_THRESHOLD_, unless the user
// set glibc's own variables or TUNEVLSEG_DEFAULT_MALLOC=1. A high threshold is only safe with
// the allocator above: with c10's posix_memalign every size below it fragments the heap.
// TUNEVLSEG_DEFAULT_MALLOC=1 keeps both libtorch's allocator and glibc's settings.
static void TuneAllocator() {
#if defined(__GLIBC__)
  if (std::getenv("TUNEVLSEG_DEFAULT_MALLOC")) return;
  static AlignedMallocAllocator allocator;
  c10::SetCPUAllocator(&allocator, /*priority=*/100);
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;
  mallopt(M_MMAP_THRESHOLD, 32 * 1024 * 1024);  // glibc refuses more than HEAP_MAX_SIZE / 2
  mallopt(M_TRIM_THRESHOLD, 256 * 1024 * 1024);
#endif
}

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  TuneAllocator();
  tvs::InitTensor(env, exports);
  tvs::InitMath(env, exports);
  tvs::InitNN(env, exports);
  tvs::InitShape(env, exports);
  tvs::InitSerialize(env, exports);
  tvs::InitAmp(env, exports);
  tvs::InitProfile(env, exports);
  tvs::InitFused(env, exports);
  tvs::InitOptim(env, exports);
  return exports;
}

NODE_API_MODULE(tunevlseg_native, InitAddon)
