// Protocol DEPTH (docs/evaluation.md#depth): the disparity of the mono (left) view from
// mono-left + colour-right, scored by bad-2.0 (share of evaluated pixels unknown or off by > 2 px),
// bad-1.0 and the mean absolute error over evaluated pixels with an estimate.
#include "dualcam/engine/metrics.hpp"
#include "protocol_internal.hpp"

namespace dualcam::eval {

using namespace dualcam::datasets;

EvalResult evaluate_depth(const std::vector<SceneSource>& scenes, const Method& method, const EvalOptions& options,
                          Progress* progress) {
  std::vector<MetricColumn> columns{{"bad2_pct", "bad-2.0 %", 2},
                                    {"bad1_pct", "bad-1.0 %", 2},
                                    {"mae_px", "MAE px", 3},
                                    {"evaluated_pct", "eval %", 1}};
  auto score = [&](const MiddleburyScene& scene, const detail::ScoreMasks& masks, const MethodInput& in, const cv::Mat& d) {
    detail::check_output(method, in, d, CV_32FC1, "disparity (CV_32F)");
    const cv::Mat& mask = masks.evaluated;
    const DisparityErrors e = disparity_errors(d, scene.disparity_left, mask);
    return std::vector<double>{100.0 * e.bad2, 100.0 * e.bad1, e.mae_px,
                               100.0 * double(e.evaluated) / double(mask.total())};
  };
  return detail::run_protocol(Protocol::Depth, scenes, method, options, progress, std::move(columns), score);
}

}  // namespace dualcam::eval
