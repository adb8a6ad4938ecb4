// Board spec parser: any string must give a valid BoardSpec or a dualcam::Error.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dualcam/calibration/board.hpp"
#include "dualcam/engine/error.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    auto spec = dualcam::calibration::parse_board_spec(std::string(reinterpret_cast<const char*>(data), size));
    spec.validate();
    if (spec.object_points().size() != std::size_t(spec.corner_count())) __builtin_trap();
  } catch (const dualcam::Error&) {
  }
  return 0;
}
