#pragma once
// A PNG encoder whose work is spread over the cores: the rows are filtered and deflated in bands
// of a fixed number of rows, each band its own raw deflate stream ended by a sync flush (so the
// streams concatenate into one), primed with the previous band's last 32 KiB (so little
// compression is lost at the joins), and the zlib checksum is combined from the bands'. The bytes
// depend on the image and the options only, not on the thread count. The file is a plain PNG
// (one zlib stream in IDAT chunks) that every decoder reads. What write_image() writes for .png:
// OpenCV's encoder (libpng) deflates on one core, 1.0 s for a 12 MP colour image.
#include <cstdint>
#include <vector>

#include <opencv2/core.hpp>

namespace dualcam {

// The PNG row filter, the same for every row.
enum class PngFilter { Sub, Up, Paeth };

struct PngEncodeOptions {
  PngFilter filter = PngFilter::Paeth;
  int level = 1;         // zlib level, 1 (fastest) .. 9; the strategy is Z_RLE
  int band_rows = 64;    // rows per independently deflated band (>= 1); part of the format's bytes
  void validate() const;
};

// CV_8U or CV_16U, 1, 3 (BGR) or 4 (BGRA) channels -> the bytes of a PNG file (grey, RGB or
// RGBA; 16-bit samples big-endian). Throws Error(InvalidInput) for another type or an empty image.
std::vector<std::uint8_t> encode_png(const cv::Mat& image, const PngEncodeOptions& options = {});

}  // namespace dualcam
