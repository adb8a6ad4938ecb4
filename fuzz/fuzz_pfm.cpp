// PFM reader: any bytes must give an image or a dualcam::Error.
#include <cstddef>
#include <cstdint>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/image_io.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    cv::Mat m = dualcam::decode_pfm(data, size, "fuzz");
    if (m.empty()) __builtin_trap();
  } catch (const dualcam::Error&) {
  }
  return 0;
}
