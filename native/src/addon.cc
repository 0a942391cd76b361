// Entry point of the tunevlseg native addon (libtorch bound through Node-API).
#include "common.h"

#include <cstdlib>
#if defined(__GLIBC__)
#include <malloc.h>
#endif

// glibc serves allocations above its mmap threshold with fresh mmap()s and returns them with
// munmap(): every large activation then costs page faults and zeroing (measured: relu on an
// 11 MB tensor 110 ms vs 2.7 ms). Python gets a dynamic threshold (up to 32 MB) that Node
// never reaches; we fix it high once at load, like MALLOC_MMAP_THRESHOLD_, unless the user
// set glibc's own variables or TUNEVLSEG_DEFAULT_MALLOC=1.
static void TuneAllocator() {
#if defined(__GLIBC__)
  if (std::getenv("TUNEVLSEG_DEFAULT_MALLOC") || std::getenv("MALLOC_MMAP_THRESHOLD_") || std::getenv("MALLOC_TRIM_THRESHOLD_")) return;
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
  return exports;
}

NODE_API_MODULE(tunevlseg_native, InitAddon)
