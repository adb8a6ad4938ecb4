#pragma once
// Factory hook of the census/SGM backend (private to fusion; the public face is match.hpp).
#include <memory>

#include "dualcam/fusion/match.hpp"

namespace dualcam::fusion {

std::unique_ptr<StereoMatcher> make_census_sgm_matcher(const MatchOptions& options);

}  // namespace dualcam::fusion
