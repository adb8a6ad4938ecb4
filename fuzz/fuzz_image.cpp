// Image loading + validation: any bytes must give an 8/16-bit 1- or 3-channel image within the
// pixel limit, or a dualcam::Error.
#include <cstddef>
#include <cstdint>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/image_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  dualcam::ImageReadOptions options;
  options.max_pixels = 4'000'000;  // keep each run small
  try {
    cv::Mat m = dualcam::decode_image(data, size, "fuzz", options);
    const bool ok = !m.empty() && (m.depth() == CV_8U || m.depth() == CV_16U) &&
                    (m.channels() == 1 || m.channels() == 3) && m.total() <= std::size_t(options.max_pixels);
    if (!ok) __builtin_trap();
  } catch (const dualcam::Error&) {
  }
  return 0;
}
