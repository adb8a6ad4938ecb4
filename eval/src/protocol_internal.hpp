#pragma once
// Shared by the protocol files: the per-scene loop (load, simulate, run the method, score).
#include <functional>
#include <vector>

#include "dualcam/eval/protocol.hpp"

namespace dualcam::eval::detail {

using datasets::MiddleburyScene;
using datasets::SceneSource;

// Scores one scene: the scene at the views the method saw (the rig's on the rig path), its
// evaluated pixels there (evaluated_mask), what the method got, and what it returned.
using Scorer = std::function<std::vector<double>(const MiddleburyScene&, const cv::Mat& evaluated, const MethodInput&,
                                                 const cv::Mat& output)>;

EvalResult run_protocol(Protocol protocol, const std::vector<SceneSource>& scenes, const Method& method,
                        const EvalOptions& options, Progress* progress, std::vector<MetricColumn> columns,
                        const Scorer& score);

// Throws Error(InvalidInput) unless `output` has `type` and the size of the input.
void check_output(const Method& method, const MethodInput& in, const cv::Mat& output, int type, const char* what);

}  // namespace dualcam::eval::detail
