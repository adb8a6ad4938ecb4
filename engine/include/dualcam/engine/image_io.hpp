#pragma once
// Image I/O at the boundary of the engine. Files hold 8- or 16-bit sRGB-encoded PNG/JPEG/TIFF, or
// 32-bit float PFM (disparity maps). Inside the engine pixels are CV_32F linear light in [0,1]
// (see color.hpp); conversion happens only here and in color.hpp.
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

namespace dualcam {

struct ImageReadOptions {
  // Refuse images with more pixels than this before decoding them (a corrupt or hostile header
  // can claim 100000 x 100000). 0 disables the check.
  std::int64_t max_pixels = 100'000'000;
};

// Reads PNG, JPEG, TIFF (8 or 16 bit, 1, 3 or 4 channels; 4 channels lose alpha). Returns CV_8U
// or CV_16U with 1 or 3 channels (BGR order). Throws Error(IO) for a missing or unreadable file,
// Error(InvalidInput) for a file that is not a decodable image.
cv::Mat read_image(const std::string& path, const ImageReadOptions& options = {});
// The same from bytes in memory; `name` is used in error messages.
cv::Mat decode_image(const std::uint8_t* data, std::size_t size, const std::string& name,
                     const ImageReadOptions& options = {});

// Writes an 8- or 16-bit image (1 or 3 channels) as PNG, JPEG or TIFF, chosen by the extension.
// Atomic (temporary file + rename).
void write_image(const std::string& path, const cv::Mat& image);

// 8-bit grey or BGR image -> JPEG bytes (quality 0..100): what write_image writes for .jpg (at 95),
// and the images inside a depth photo (depth_photo.hpp).
std::vector<std::uint8_t> encode_jpeg(const cv::Mat& image8, int quality = 95);

// PFM: "Pf" (1 channel) or "PF" (3 channels), rows stored bottom-to-top, little endian when the
// scale field is negative, big endian when positive. The scale's magnitude is not applied.
cv::Mat read_pfm(const std::string& path);
cv::Mat decode_pfm(const std::uint8_t* data, std::size_t size, const std::string& name);
void write_pfm(const std::string& path, const cv::Mat& image, bool little_endian = true);

// Pixel dimensions from an image file's header, without decoding the pixels (PNG, JPEG, TIFF,
// PFM). Returns an empty size when the format is not recognised.
cv::Size peek_image_size(const std::uint8_t* data, std::size_t size);

}  // namespace dualcam
