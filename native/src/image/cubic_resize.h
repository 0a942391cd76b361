// Bicubic resize with OpenCV's INTER_CUBIC semantics, bit for bit on x86-64 (the reference
// resizes its inputs with cv2.resize(..., INTER_CUBIC) through albumentations' Resize):
// Keys kernel a = -0.75, half-pixel centres, no antialiasing when shrinking, replicated
// borders; 8-bit in OpenCV's fixed point (11-bit coefficients, its SSE2 vertical pass in
// float), 16-bit in float. Interleaved channels in and out.
#ifndef TVS_IMAGE_CUBIC_RESIZE_H
#define TVS_IMAGE_CUBIC_RESIZE_H

#include <cstdint>

namespace tvs_image {

void ResizeCubicU8(const uint8_t* src, int src_w, int src_h, int channels, uint8_t* dst, int dst_w, int dst_h);
void ResizeCubicU16(const uint16_t* src, int src_w, int src_h, int channels, uint16_t* dst, int dst_w, int dst_h);

}  // namespace tvs_image

#endif
