// JPEG decoding with the system libjpeg(-turbo), the library OpenCV's imread uses: the same
// IDCT (JDCT_ISLOW), the same fancy chroma upsampling, and for gray output the luma plane
// itself (out_color_space = JCS_GRAYSCALE), which is what cv2.IMREAD_GRAYSCALE returns.
#ifndef TVS_IMAGE_JPEG_DECODE_H
#define TVS_IMAGE_JPEG_DECODE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  uint8_t* pixels;  // malloc'd, height rows of width * channels bytes; free() it
  int width;          // decoded size (smaller than the file's with shrink-on-load)
  int height;
  int source_width;   // the file's size
  int source_height;
  int channels;     // 1 (gray) or 3 (RGB)
  int orientation;  // EXIF orientation, 1 when absent or unreadable
  int warnings;     // libjpeg warnings (corrupt or truncated data); the first one in `message`
  char message[200];
} tvs_jpeg_image;

// Result codes.
enum { TVS_JPEG_OK = 0, TVS_JPEG_ERROR = 1, TVS_JPEG_UNSUPPORTED = 2 };

// Decodes `data` to RGB (or gray when `gray` is set, or when the file is a one-component
// JPEG). With `min_size` > 0, libjpeg decodes at the smallest of 1/2, 1/4, 1/8 scale that
// keeps both sides >= min_size (shrink-on-load); 0 decodes at full size. CMYK/YCCK files are
// TVS_JPEG_UNSUPPORTED. On TVS_JPEG_ERROR `out->message` holds libjpeg's message and nothing
// is allocated.
int tvs_jpeg_decode(const uint8_t* data, size_t length, int gray, int min_size, tvs_jpeg_image* out);

#ifdef __cplusplus
}
#endif

#endif
