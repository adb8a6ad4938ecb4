// Rig YAML reader: any bytes must give a StereoRig or a dualcam::Error, nothing else.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/rig.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    dualcam::StereoRig rig = dualcam::parse_rig(std::string(reinterpret_cast<const char*>(data), size), "fuzz");
    // A rig that parsed must also survive what the pipeline does with it first.
    (void)dualcam::format_rig(rig);
  } catch (const dualcam::Error&) {
  }
  return 0;
}
