// Depth photo reader: any bytes must give a photo (with or without depth) or a dualcam::Error,
// and so must decoding the depth it claims.
#include <cstddef>
#include <cstdint>

#include "dualcam/engine/depth_photo.hpp"
#include "dualcam/engine/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const dualcam::DepthPhoto p = dualcam::parse_depth_photo(data, size, "fuzz");
    if (p.depth) {
      const cv::Mat d = dualcam::decode_disparity(*p.depth);
      if (d.empty()) __builtin_trap();
    }
  } catch (const dualcam::Error&) {
  }
  return 0;
}
