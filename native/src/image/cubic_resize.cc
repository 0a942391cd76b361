// See cubic_resize.h. The order of every floating-point operation below is OpenCV's (4.x
// imgproc/src/resize.cpp: interpolateCubic, HResizeCubic, VResizeCubic and its SSE2
// VResizeCubicVec_32s8u / _32f16u): that order is what makes the result bit-identical. The
// file is compiled with -ffp-contract=off so that no multiply-add is fused.
#include "cubic_resize.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

namespace tvs_image {
namespace {

constexpr int kCoefBits = 11;               // INTER_RESIZE_COEF_BITS
constexpr int kCoefScale = 1 << kCoefBits;  // INTER_RESIZE_COEF_SCALE
constexpr int kVecLanes = 8;                // SSE2: 8 int16 / uint16 lanes per vertical step

// Keys' cubic convolution weights for a sample at fractional offset x in [0, 1).
void CubicWeights(float x, float* w) {
  const float A = -0.75f;
  w[0] = ((A * (x + 1) - 5 * A) * (x + 1) + 8 * A) * (x + 1) - 4 * A;
  w[1] = ((A + 2) * x - (A + 3)) * x * x + 1;
  w[2] = ((A + 2) * (1 - x) - (A + 3)) * (1 - x) * (1 - x) + 1;
  w[3] = 1.f - w[0] - w[1] - w[2];
}

// Source index (of the second of the four taps) and float weights for each output sample,
// as cv::resize computes them: scale = 1 / (dst / src) in double, position rounded to float.
struct Taps {
  std::vector<int> first;   // floor(position)
  std::vector<float> w;     // 4 per output sample
};

Taps ComputeTaps(int src, int dst) {
  Taps t;
  t.first.resize(dst);
  t.w.resize(4 * static_cast<size_t>(dst));
  const double scale = 1.0 / (static_cast<double>(dst) / src);
  for (int d = 0; d < dst; d++) {
    float f = static_cast<float>((d + 0.5) * scale - 0.5);
    int s = static_cast<int>(std::floor(f));
    f -= static_cast<float>(s);
    t.first[d] = s;
    CubicWeights(f, &t.w[4 * static_cast<size_t>(d)]);
  }
  return t;
}

// saturate_cast<short>(float): round half to even (cvRound), clamp.
int16_t ToShort(float v) {
  long r = std::lrint(v);
  return static_cast<int16_t>(std::clamp<long>(r, INT16_MIN, INT16_MAX));
}

int Clamp(int i, int n) { return i < 0 ? 0 : i >= n ? n - 1 : i; }

// One source row resized horizontally: out[x*cn + c] = sum_k s[ix[4x+k]*cn + c] * a[4x+k], in
// the type and order of OpenCV's HResizeCubic. CN > 0 fixes the channel count at compile time
// (the loops then vectorise); CN == 0 takes it from `cn`.
template <int CN, typename S, typename W, typename A>
void HorizontalPass(const S* s, int cn_runtime, const int* ix, const A* a, int dst_w, W* out) {
  const int cn = CN > 0 ? CN : cn_runtime;
  for (int x = 0; x < dst_w; x++, ix += 4, a += 4) {
    const S* p0 = s + ix[0] * cn;
    const S* p1 = s + ix[1] * cn;
    const S* p2 = s + ix[2] * cn;
    const S* p3 = s + ix[3] * cn;
    for (int c = 0; c < cn; c++) {
      W v = static_cast<W>(p0[c]) * a[0];
      v = v + static_cast<W>(p1[c]) * a[1];
      v = v + static_cast<W>(p2[c]) * a[2];
      v = v + static_cast<W>(p3[c]) * a[3];
      out[x * cn + c] = v;
    }
  }
}

template <typename S, typename W, typename A>
void HorizontalRow(const S* s, int cn, const int* ix, const A* a, int dst_w, W* out) {
  if (cn == 3) HorizontalPass<3>(s, cn, ix, a, dst_w, out);
  else if (cn == 1) HorizontalPass<1>(s, cn, ix, a, dst_w, out);
  else HorizontalPass<0>(s, cn, ix, a, dst_w, out);
}

// Round half to even, as cvRound / _mm_cvtps_epi32 in the default rounding mode.
inline long RoundEven(float v) { return std::lrint(v); }

// For each output sample, the four clamped source indices (replicated border).
std::vector<int> TapIndices(const Taps& t, int src) {
  std::vector<int> idx(4 * t.first.size());
  for (size_t d = 0; d < t.first.size(); d++)
    for (int k = 0; k < 4; k++) idx[4 * d + k] = Clamp(t.first[d] - 1 + k, src);
  return idx;
}

// Taps and clamped source indices of both axes.
struct Plan {
  Taps tx, ty;
  std::vector<int> ix, iy;
  Plan(int src_w, int src_h, int dst_w, int dst_h)
      : tx(ComputeTaps(src_w, dst_w)), ty(ComputeTaps(src_h, dst_h)), ix(TapIndices(tx, src_w)), iy(TapIndices(ty, src_h)) {}
};

// Horizontally resized source rows in a ring of four, slot = row % 4: the four rows of one
// output row are consecutive (or repeated at the border), so they never share a slot.
template <typename S, typename W, typename A>
class RowRing {
 public:
  RowRing(const S* src, int src_w, int cn, const int* ix, const A* a, int dst_w)
      : src_(src), src_stride_(static_cast<size_t>(src_w) * cn), cn_(cn), ix_(ix), a_(a), dst_w_(dst_w),
        row_len_(static_cast<size_t>(dst_w) * cn), ring_(4 * row_len_) {}

  const W* Row(int y) {
    W* out = &ring_[static_cast<size_t>(y % 4) * row_len_];
    if (tag_[y % 4] != y) {
      HorizontalRow<S, W, A>(src_ + static_cast<size_t>(y) * src_stride_, cn_, ix_, a_, dst_w_, out);
      tag_[y % 4] = y;
    }
    return out;
  }

 private:
  const S* src_;
  size_t src_stride_;
  int cn_;
  const int* ix_;
  const A* a_;
  int dst_w_;
  size_t row_len_;
  std::vector<W> ring_;
  int tag_[4] = {-1, -1, -1, -1};
};

}  // namespace

void ResizeCubicU8(const uint8_t* src, int src_w, int src_h, int cn, uint8_t* dst, int dst_w, int dst_h) {
  if (src_w == dst_w && src_h == dst_h) {
    std::memcpy(dst, src, static_cast<size_t>(src_w) * src_h * cn);
    return;
  }
  const Plan plan(src_w, src_h, dst_w, dst_h);
  std::vector<int16_t> alpha(plan.tx.w.size());
  std::vector<int16_t> beta(plan.ty.w.size());
  for (size_t i = 0; i < alpha.size(); i++) alpha[i] = ToShort(plan.tx.w[i] * kCoefScale);
  for (size_t i = 0; i < beta.size(); i++) beta[i] = ToShort(plan.ty.w[i] * kCoefScale);
  const int row_len = dst_w * cn;
  // uint8 * int16 summed in int: exact, so the order does not matter in the horizontal pass.
  RowRing<uint8_t, int32_t, int16_t> rows(src, src_w, cn, plan.ix.data(), alpha.data(), dst_w);
  const float scale = 1.f / (kCoefScale * kCoefScale);
  const int vec_end = row_len - row_len % kVecLanes;
  for (int y = 0; y < dst_h; y++) {
    const int* r = &plan.iy[4 * static_cast<size_t>(y)];
    const int16_t* b = &beta[4 * static_cast<size_t>(y)];
    const int32_t *S0 = rows.Row(r[0]), *S1 = rows.Row(r[1]), *S2 = rows.Row(r[2]), *S3 = rows.Row(r[3]);
    uint8_t* d = dst + static_cast<size_t>(y) * row_len;
    // OpenCV's SIMD part: float weights beta / 2^22, S0*b0 + (S1*b1 + (S2*b2 + S3*b3)),
    // rounded half to even, saturated.
    const float b0 = b[0] * scale, b1 = b[1] * scale, b2 = b[2] * scale, b3 = b[3] * scale;
    int x = 0;
#if defined(__SSE2__)
    const __m128 vb0 = _mm_set1_ps(b0), vb1 = _mm_set1_ps(b1), vb2 = _mm_set1_ps(b2), vb3 = _mm_set1_ps(b3);
    auto four = [&](int i) {
      __m128 t = _mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(S3 + i))), vb3);
      t = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(S2 + i))), vb2), t);
      t = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(S1 + i))), vb1), t);
      t = _mm_add_ps(_mm_mul_ps(_mm_cvtepi32_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(S0 + i))), vb0), t);
      return _mm_cvtps_epi32(t);
    };
    for (; x < vec_end; x += kVecLanes) {
      __m128i v16 = _mm_packs_epi32(four(x), four(x + 4));
      _mm_storel_epi64(reinterpret_cast<__m128i*>(d + x), _mm_packus_epi16(v16, v16));
    }
#endif
    for (; x < vec_end; x++) {
      float t = static_cast<float>(S3[x]) * b3;
      t = static_cast<float>(S2[x]) * b2 + t;
      t = static_cast<float>(S1[x]) * b1 + t;
      t = static_cast<float>(S0[x]) * b0 + t;
      d[x] = static_cast<uint8_t>(std::clamp<long>(RoundEven(t), 0, 255));
    }
    // Its scalar tail: integer sum, (v + 2^21) >> 22.
    for (int x = vec_end; x < row_len; x++) {
      int v = S0[x] * b[0] + S1[x] * b[1] + S2[x] * b[2] + S3[x] * b[3];
      v = (v + (1 << (2 * kCoefBits - 1))) >> (2 * kCoefBits);
      d[x] = static_cast<uint8_t>(std::clamp(v, 0, 255));
    }
  }
}

void ResizeCubicU16(const uint16_t* src, int src_w, int src_h, int cn, uint16_t* dst, int dst_w, int dst_h) {
  if (src_w == dst_w && src_h == dst_h) {
    std::memcpy(dst, src, static_cast<size_t>(src_w) * src_h * cn * sizeof(uint16_t));
    return;
  }
  const Plan plan(src_w, src_h, dst_w, dst_h);
  const int row_len = dst_w * cn;
  RowRing<uint16_t, float, float> rows(src, src_w, cn, plan.ix.data(), plan.tx.w.data(), dst_w);
  const int vec_end = row_len - row_len % kVecLanes;
  for (int y = 0; y < dst_h; y++) {
    const int* r = &plan.iy[4 * static_cast<size_t>(y)];
    const float* b = &plan.ty.w[4 * static_cast<size_t>(y)];
    const float *S0 = rows.Row(r[0]), *S1 = rows.Row(r[1]), *S2 = rows.Row(r[2]), *S3 = rows.Row(r[3]);
    uint16_t* d = dst + static_cast<size_t>(y) * row_len;
    for (int x = 0; x < vec_end; x++) {
      float t = S3[x] * b[3];
      t = S2[x] * b[2] + t;
      t = S1[x] * b[1] + t;
      t = S0[x] * b[0] + t;
      d[x] = static_cast<uint16_t>(std::clamp<long>(RoundEven(t), 0, 65535));
    }
    for (int x = vec_end; x < row_len; x++) {
      float t = S0[x] * b[0] + S1[x] * b[1] + S2[x] * b[2] + S3[x] * b[3];
      d[x] = static_cast<uint16_t>(std::clamp<long>(RoundEven(t), 0, 65535));
    }
  }
}

}  // namespace tvs_image
