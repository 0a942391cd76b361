// tunevlseg_image: the data loader's native half (no libtorch). JPEG decoding with the system
// libjpeg and OpenCV-exact bicubic resizing, so that inputs match the reference's cv2
// pipeline pixel for pixel and cost what OpenCV's cost. Loaded by src/data/native-image.ts,
// in loader worker threads too (Node-API addons are context-aware).
#include <napi.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "cubic_resize.h"
#include "jpeg_decode.h"

namespace {

// decodeJpeg(data: Uint8Array, gray: boolean, minSize: number (0: full size))
//   -> { ok: true, pixels: Buffer, width, height, sourceWidth, sourceHeight, channels, orientation, warnings, warning }
//    | { ok: false, unsupported: boolean, message }
// Failures are results, not exceptions: the caller falls back to libvips, which names them.
Napi::Value DecodeJpeg(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsBoolean() || !info[2].IsNumber())
    throw Napi::TypeError::New(env, "decodeJpeg(data: Uint8Array, gray: boolean, minSize: number)");
  Napi::Uint8Array data = info[0].As<Napi::Uint8Array>();
  tvs_jpeg_image img;
  int rc = tvs_jpeg_decode(data.Data(), data.ByteLength(), info[1].As<Napi::Boolean>().Value() ? 1 : 0,
                           info[2].As<Napi::Number>().Int32Value(), &img);
  Napi::Object out = Napi::Object::New(env);
  out.Set("ok", rc == TVS_JPEG_OK);
  if (rc != TVS_JPEG_OK) {
    out.Set("unsupported", rc == TVS_JPEG_UNSUPPORTED);
    out.Set("message", std::string(img.message));
    return out;
  }
  const size_t n = static_cast<size_t>(img.width) * img.height * img.channels;
  Napi::Buffer<uint8_t> pixels = Napi::Buffer<uint8_t>::Copy(env, img.pixels, n);
  std::free(img.pixels);
  out.Set("pixels", pixels);
  out.Set("width", img.width);
  out.Set("height", img.height);
  out.Set("sourceWidth", img.source_width);
  out.Set("sourceHeight", img.source_height);
  out.Set("channels", img.channels);
  out.Set("orientation", img.orientation);
  out.Set("warnings", img.warnings);
  out.Set("warning", std::string(img.message));
  return out;
}

struct Raster {
  const void* data;
  bool is16;
  int width, height, channels;
};

Raster ReadRaster(const Napi::CallbackInfo& info, const char* fn) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber())
    throw Napi::TypeError::New(env, std::string(fn) + ": expected (pixels: Uint8Array | Uint16Array, width, height, channels, ...)");
  Napi::TypedArray a = info[0].As<Napi::TypedArray>();
  Raster r{nullptr, false, info[1].As<Napi::Number>().Int32Value(), info[2].As<Napi::Number>().Int32Value(),
           info[3].As<Napi::Number>().Int32Value()};
  if (a.TypedArrayType() == napi_uint8_array) r.data = a.As<Napi::Uint8Array>().Data();
  else if (a.TypedArrayType() == napi_uint16_array) { r.data = a.As<Napi::Uint16Array>().Data(); r.is16 = true; }
  else throw Napi::TypeError::New(env, std::string(fn) + ": pixels must be a Uint8Array or Uint16Array");
  if (r.width <= 0 || r.height <= 0 || r.channels <= 0 || r.channels > 4 ||
      a.ElementLength() != static_cast<size_t>(r.width) * r.height * r.channels)
    throw Napi::RangeError::New(env, std::string(fn) + ": " + std::to_string(a.ElementLength()) + " values for " +
                                         std::to_string(r.width) + "x" + std::to_string(r.height) + "x" + std::to_string(r.channels));
  return r;
}

int PositiveInt(const Napi::Value& v, const char* what) {
  int i = v.IsNumber() ? v.As<Napi::Number>().Int32Value() : 0;
  if (i <= 0) throw Napi::RangeError::New(v.Env(), std::string(what) + " must be a positive integer");
  return i;
}

// resizeCubic(pixels, width, height, channels, dstWidth, dstHeight) -> same-typed array
Napi::Value ResizeCubic(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Raster r = ReadRaster(info, "resizeCubic");
  int dw = PositiveInt(info[4], "resizeCubic: dstWidth");
  int dh = PositiveInt(info[5], "resizeCubic: dstHeight");
  const size_t n = static_cast<size_t>(dw) * dh * r.channels;
  if (r.is16) {
    Napi::Uint16Array out = Napi::Uint16Array::New(env, n);
    tvs_image::ResizeCubicU16(static_cast<const uint16_t*>(r.data), r.width, r.height, r.channels, out.Data(), dw, dh);
    return out;
  }
  Napi::Uint8Array out = Napi::Uint8Array::New(env, n);
  tvs_image::ResizeCubicU8(static_cast<const uint8_t*>(r.data), r.width, r.height, r.channels, out.Data(), dw, dh);
  return out;
}

// resizeCubicToPlanes(pixels, width, height, channels (1|3), size, scale[3], offset[3], out: Float32Array[3*size*size])
// out[c][i] = resized[i][c] * scale[c] + offset[c] (in double, as the JS normalisation did);
// one gray channel fills all three planes.
Napi::Value ResizeCubicToPlanes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Raster r = ReadRaster(info, "resizeCubicToPlanes");
  if (r.channels != 1 && r.channels != 3) throw Napi::RangeError::New(env, "resizeCubicToPlanes: 1 or 3 channels");
  int S = PositiveInt(info[4], "resizeCubicToPlanes: size");
  if (!info[5].IsArray() || !info[6].IsArray() || !info[7].IsTypedArray())
    throw Napi::TypeError::New(env, "resizeCubicToPlanes: scale[3], offset[3], out: Float32Array");
  Napi::Array sa = info[5].As<Napi::Array>(), oa = info[6].As<Napi::Array>();
  double scale[3], offset[3];
  for (uint32_t c = 0; c < 3; c++) {
    scale[c] = sa.Get(c).As<Napi::Number>().DoubleValue();
    offset[c] = oa.Get(c).As<Napi::Number>().DoubleValue();
  }
  Napi::TypedArray ta = info[7].As<Napi::TypedArray>();
  const size_t plane = static_cast<size_t>(S) * S;
  if (ta.TypedArrayType() != napi_float32_array || ta.ElementLength() != 3 * plane)
    throw Napi::RangeError::New(env, "resizeCubicToPlanes: out must be a Float32Array of 3*size*size");
  float* out = ta.As<Napi::Float32Array>().Data();
  const int cn = r.channels;
  // Scratch reused by this thread's next call (a loader worker decodes thousands of images).
  thread_local std::vector<uint16_t> scratch16;
  thread_local std::vector<uint8_t> scratch8;
  if (r.is16) {
    scratch16.resize(plane * cn);
    tvs_image::ResizeCubicU16(static_cast<const uint16_t*>(r.data), r.width, r.height, cn, scratch16.data(), S, S);
  } else {
    scratch8.resize(plane * cn);
    tvs_image::ResizeCubicU8(static_cast<const uint8_t*>(r.data), r.width, r.height, cn, scratch8.data(), S, S);
  }
  for (int c = 0; c < 3; c++) {
    float* dst = out + c * plane;
    const int src_c = cn == 1 ? 0 : c;
    if (r.is16) {
      const uint16_t* s = scratch16.data() + src_c;
      for (size_t i = 0; i < plane; i++) dst[i] = static_cast<float>(s[i * cn] * scale[c] + offset[c]);
    } else {
      float lut[256];  // the same arithmetic, once per level
      for (int v = 0; v < 256; v++) lut[v] = static_cast<float>(v * scale[c] + offset[c]);
      const uint8_t* s = scratch8.data() + src_c;
      if (cn == 3) for (size_t i = 0; i < plane; i++) dst[i] = lut[s[3 * i]];
      else for (size_t i = 0; i < plane; i++) dst[i] = lut[s[i]];
    }
  }
  return env.Undefined();
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("decodeJpeg", Napi::Function::New(env, DecodeJpeg, "decodeJpeg"));
  exports.Set("resizeCubic", Napi::Function::New(env, ResizeCubic, "resizeCubic"));
  exports.Set("resizeCubicToPlanes", Napi::Function::New(env, ResizeCubicToPlanes, "resizeCubicToPlanes"));
  return exports;
}

}  // namespace

NODE_API_MODULE(tunevlseg_image, Init)
