#pragma once
// Shared by the protocol files: the per-scene loop (load, simulate, run the method, score).
#include <functional>
#include <vector>

#include "dualcam/eval/protocol.hpp"

namespace dualcam::eval::detail {

using datasets::MiddleburyScene;
using datasets::SceneSource;

// The pixels of the left (mono) view a score looks at, at the view the method saw (CV_8U, 255 =
// in): `evaluated` (evaluated_mask: known truth, seen by both views, inside the mask the data
// gives) and `unseen` (unseen_mask: what the right (colour) camera does not see: occluded by a
// nearer surface, outside its image, or without truth, which in this data is where the
// left-right check of its authors failed, mostly occlusions).
struct ScoreMasks {
  cv::Mat evaluated, unseen;
};

// Scores one scene: the scene at the views the method saw (the rig's on the rig path), the
// masks there, what the method got, and what it returned.
using Scorer = std::function<std::vector<double>(const MiddleburyScene&, const ScoreMasks& masks, const MethodInput&,
                                                 const cv::Mat& output)>;

EvalResult run_protocol(Protocol protocol, const std::vector<SceneSource>& scenes, const Method& method,
                        const EvalOptions& options, Progress* progress, std::vector<MetricColumn> columns,
                        const Scorer& score);

// Throws Error(InvalidInput) unless `output` has `type` and the size of the input.
void check_output(const Method& method, const MethodInput& in, const cv::Mat& output, int type, const char* what);

}  // namespace dualcam::eval::detail
