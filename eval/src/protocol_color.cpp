// Protocols P1 (colourise, reference = mono) and P2 (low light, reference = colour) of
// docs/evaluation.md#p1 and #p2: PSNR over the whole 8-bit RGB image (and, for P1, over the
// evaluated pixels) and SSIM against the clean scene image at the output's view (on the rig path,
// what the rig's camera sees of it).
#include "dualcam/engine/metrics.hpp"
#include "protocol_internal.hpp"

namespace dualcam::eval {

using namespace dualcam::datasets;

EvalResult evaluate_p1(const std::vector<SceneSource>& scenes, const Method& method, const EvalOptions& options,
                       Progress* progress) {
  // Chroma errors apart for the pixels the colour camera saw (evaluated) and did not see
  // (unseen_mask): colour bleeding into occlusions shows in the second.
  std::vector<MetricColumn> columns{{"psnr_db", "PSNR dB", 2},
                                    {"psnr_eval_db", "PSNR eval dB", 2},
                                    {"ssim", "SSIM", 4},
                                    {"chroma_seen", "chroma seen", 2},
                                    {"chroma_unseen", "chroma unseen", 2},
                                    {"unseen_pct", "unseen %", 1}};
  auto score = [&](const MiddleburyScene& scene, const detail::ScoreMasks& m, const MethodInput& in, const cv::Mat& out) {
    detail::check_output(method, in, out, CV_8UC3, "colour image (CV_8UC3)");
    return std::vector<double>{psnr8(out, scene.left),
                               psnr8(out, scene.left, m.evaluated),
                               ssim8(out, scene.left),
                               chroma_rms8(out, scene.left, m.evaluated),
                               chroma_rms8(out, scene.left, m.unseen),
                               100.0 * double(cv::countNonZero(m.unseen)) / double(m.unseen.total())};
  };
  return detail::run_protocol(Protocol::P1, scenes, method, options, progress, std::move(columns), score);
}

EvalResult evaluate_p2(const std::vector<SceneSource>& scenes, const Method& method, const EvalOptions& options,
                       Progress* progress) {
  // The colour input's own scores sit beside the method's: fusion must beat what it was given.
  std::vector<MetricColumn> columns{
      {"psnr_db", "PSNR dB", 2}, {"ssim", "SSIM", 4}, {"input_psnr_db", "input PSNR dB", 2}, {"input_ssim", "input SSIM", 4}};
  auto score = [&](const MiddleburyScene& scene, const detail::ScoreMasks&, const MethodInput& in, const cv::Mat& out) {
    detail::check_output(method, in, out, CV_8UC3, "colour image (CV_8UC3)");
    return std::vector<double>{psnr8(out, scene.right), ssim8(out, scene.right), psnr8(in.color, scene.right),
                               ssim8(in.color, scene.right)};
  };
  return detail::run_protocol(Protocol::P2, scenes, method, options, progress, std::move(columns), score);
}

}  // namespace dualcam::eval
