// See jpeg_decode.h. Plain C: libjpeg reports fatal errors by longjmp, which must not cross
// C++ frames. Built with TVS_NO_LIBJPEG (scripts/build-addon-gxx.sh on a machine without the
// libjpeg headers) every file is TVS_JPEG_UNSUPPORTED and JPEGs go through libvips.
#include "jpeg_decode.h"

#ifdef TVS_NO_LIBJPEG
#include <stdio.h>
#include <string.h>

int tvs_jpeg_decode(const uint8_t* data, size_t length, int gray, int min_size, tvs_jpeg_image* out) {
  (void)data, (void)length, (void)gray, (void)min_size;
  memset(out, 0, sizeof *out);
  snprintf(out->message, sizeof out->message, "built without libjpeg");
  return TVS_JPEG_UNSUPPORTED;
}
#else

#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h>

typedef struct {
  struct jpeg_error_mgr pub;
  jmp_buf jump;
  tvs_jpeg_image* out;
} error_mgr;

static void on_error(j_common_ptr cinfo) {
  error_mgr* err = (error_mgr*)cinfo->err;
  char text[JMSG_LENGTH_MAX];
  (*cinfo->err->format_message)(cinfo, text);
  snprintf(err->out->message, sizeof err->out->message, "%s", text);
  longjmp(err->jump, 1);
}

// Level -1 is a warning (corrupt data, premature end of file); other levels are trace
// messages. We count warnings instead of printing them: the caller decides.
static void on_message(j_common_ptr cinfo, int level) {
  if (level >= 0) return;
  error_mgr* err = (error_mgr*)cinfo->err;
  if (err->out->warnings++ == 0) {
    char text[JMSG_LENGTH_MAX];
    (*cinfo->err->format_message)(cinfo, text);
    snprintf(err->out->message, sizeof err->out->message, "%s", text);
  }
}

static unsigned read16(const uint8_t* p, int le) { return le ? (unsigned)(p[0] | p[1] << 8) : (unsigned)(p[0] << 8 | p[1]); }
static unsigned long read32(const uint8_t* p, int le) {
  return le ? (unsigned long)p[0] | (unsigned long)p[1] << 8 | (unsigned long)p[2] << 16 | (unsigned long)p[3] << 24
            : (unsigned long)p[0] << 24 | (unsigned long)p[1] << 16 | (unsigned long)p[2] << 8 | (unsigned long)p[3];
}

// EXIF orientation (tag 0x0112 of IFD0) from an APP1 "Exif\0\0" payload; 1 when absent.
static int exif_orientation(const uint8_t* p, unsigned len) {
  if (len < 14 || memcmp(p, "Exif\0\0", 6) != 0) return 1;
  const uint8_t* tiff = p + 6;
  unsigned n = len - 6;
  int le;
  if (tiff[0] == 'I' && tiff[1] == 'I') le = 1;
  else if (tiff[0] == 'M' && tiff[1] == 'M') le = 0;
  else return 1;
  unsigned long ifd = read32(tiff + 4, le);
  if (ifd + 2 > n) return 1;
  unsigned entries = read16(tiff + ifd, le);
  for (unsigned i = 0; i < entries; i++) {
    unsigned long e = ifd + 2 + 12ul * i;
    if (e + 12 > n) return 1;
    if (read16(tiff + e, le) == 0x0112 && read16(tiff + e + 2, le) == 3) {
      unsigned v = read16(tiff + e + 8, le);
      return v >= 1 && v <= 8 ? (int)v : 1;
    }
  }
  return 1;
}

int tvs_jpeg_decode(const uint8_t* data, size_t length, int gray, int min_size, tvs_jpeg_image* out) {
  struct jpeg_decompress_struct cinfo;
  error_mgr err;
  // volatile: modified between setjmp and a possible longjmp.
  uint8_t* volatile pixels = NULL;
  memset(out, 0, sizeof *out);
  out->orientation = 1;
  cinfo.err = jpeg_std_error(&err.pub);
  err.pub.error_exit = on_error;
  err.pub.emit_message = on_message;
  err.out = out;
  if (setjmp(err.jump)) {
    jpeg_destroy_decompress(&cinfo);
    free(pixels);
    out->pixels = NULL;
    return TVS_JPEG_ERROR;
  }
  jpeg_create_decompress(&cinfo);
  jpeg_mem_src(&cinfo, data, (unsigned long)length);
  jpeg_save_markers(&cinfo, JPEG_APP0 + 1, 0xFFFF);
  jpeg_read_header(&cinfo, TRUE);
  for (jpeg_saved_marker_ptr m = cinfo.marker_list; m != NULL; m = m->next) {
    if (m->marker == JPEG_APP0 + 1) {
      out->orientation = exif_orientation(m->data, m->data_length);
      if (out->orientation != 1) break;
    }
  }
  if (cinfo.jpeg_color_space == JCS_CMYK || cinfo.jpeg_color_space == JCS_YCCK) {
    jpeg_destroy_decompress(&cinfo);
    snprintf(out->message, sizeof out->message, "CMYK JPEG");
    return TVS_JPEG_UNSUPPORTED;
  }
  cinfo.out_color_space = gray || cinfo.num_components == 1 ? JCS_GRAYSCALE : JCS_RGB;
  out->source_width = (int)cinfo.image_width;
  out->source_height = (int)cinfo.image_height;
  cinfo.scale_num = 1;
  cinfo.scale_denom = 1;
  if (min_size > 0) {
    // libjpeg's scaled size is ceil(side / denom).
    for (unsigned d = 8; d >= 2; d /= 2) {
      if ((cinfo.image_width + d - 1) / d >= (unsigned)min_size && (cinfo.image_height + d - 1) / d >= (unsigned)min_size) {
        cinfo.scale_denom = d;
        break;
      }
    }
  }
  jpeg_start_decompress(&cinfo);
  const size_t stride = (size_t)cinfo.output_width * (size_t)cinfo.output_components;
  pixels = (uint8_t*)malloc(stride * cinfo.output_height);
  if (pixels == NULL) {
    jpeg_destroy_decompress(&cinfo);
    snprintf(out->message, sizeof out->message, "out of memory for %ux%u pixels", cinfo.output_width, cinfo.output_height);
    return TVS_JPEG_ERROR;
  }
  while (cinfo.output_scanline < cinfo.output_height) {
    JSAMPROW rows[4];
    int count = 0;
    for (; count < 4 && cinfo.output_scanline + (unsigned)count < cinfo.output_height; count++)
      rows[count] = pixels + stride * (cinfo.output_scanline + (unsigned)count);
    jpeg_read_scanlines(&cinfo, rows, (JDIMENSION)count);
  }
  jpeg_finish_decompress(&cinfo);
  out->width = (int)cinfo.output_width;
  out->height = (int)cinfo.output_height;
  out->channels = cinfo.output_components;
  out->pixels = pixels;
  jpeg_destroy_decompress(&cinfo);
  return TVS_JPEG_OK;
}

#endif  // TVS_NO_LIBJPEG
