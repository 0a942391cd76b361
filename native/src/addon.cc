// Entry point of the tunevlseg native addon (libtorch bound through Node-API).
#include "common.h"

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) {
  tvs::InitTensor(env, exports);
  tvs::InitMath(env, exports);
  tvs::InitNN(env, exports);
  tvs::InitShape(env, exports);
  tvs::InitSerialize(env, exports);
  return exports;
}

NODE_API_MODULE(tunevlseg_native, InitAddon)
