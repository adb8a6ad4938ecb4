#pragma once
// Which camera's view a fused image, a depth map or a warp is given at.
#include <string>

namespace dualcam::fusion {

enum class Reference { Color, Mono };
const char* to_string(Reference reference);
Reference parse_reference(const std::string& text);  // "color"/"colour"/"mono"

}  // namespace dualcam::fusion
