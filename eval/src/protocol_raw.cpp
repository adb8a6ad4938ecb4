// Protocol RAW of docs/evaluation.md#raw-protocol: each scene's pair made by the realistic
// sensor, given to the method twice, as the sensors' raw frames and as the cameras' finished
// pictures of the same samples, and fused at both views from each. The four outputs are scored
// against the same clean images (PSNR over the whole 8-bit RGB image); a column gives the raw
// path's gain over the finished one at each view. The colour camera's frame developed alone
// (the input rule's finishing stage) and its finished picture are scored beside them.
#include <opencv2/core.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/metrics.hpp"
#include "protocol_internal.hpp"

namespace dualcam::eval {

using namespace dualcam::datasets;

EvalResult evaluate_raw(const std::vector<SceneSource>& scenes, const Method& method, const EvalOptions& options,
                        Progress* progress) {
  std::vector<MetricColumn> columns{{"color_raw_db", "colour raw dB", 2},     {"color_finished_db", "colour fin dB", 2},
                                    {"color_gain_db", "colour gain", 2},      {"mono_raw_db", "mono view raw dB", 2},
                                    {"mono_finished_db", "mono view fin dB", 2}, {"mono_gain_db", "mono gain", 2},
                                    {"develop_db", "develop dB", 2},          {"input_db", "input dB", 2}};
  // One run of the protocol loop runs the method four times; their outputs are stacked in one
  // image (colour view raw, finished; mono view raw, finished), which the scorer takes apart.
  Method four{method.name, [run = method.run](const MethodInput& in) {
                MethodInput finished = in;
                finished.mono_raw = RawFrame{};
                finished.color_raw = RawFrame{};
                MethodInput raw = in, raw_mono = in, finished_mono = finished;
                raw_mono.mono_view = finished_mono.mono_view = true;
                raw.mono_view = finished.mono_view = false;
                std::vector<cv::Mat> outs{run(raw), run(finished), run(raw_mono), run(finished_mono)};
                for (const cv::Mat& o : outs)
                  if (o.empty() || o.type() != CV_8UC3 || o.size() != in.mono.size()) return cv::Mat();
                cv::Mat stacked;
                cv::vconcat(outs, stacked);
                return stacked;
              }};
  auto score = [&](const MiddleburyScene& scene, const detail::ScoreMasks&, const MethodInput& in, const cv::Mat& out) {
    const int h = in.mono.rows;
    if (out.empty() || out.type() != CV_8UC3 || out.rows != 4 * h || out.cols != in.mono.cols)
      throw_invalid("method '" + method.name + "' returned no valid colour image (CV_8UC3) at both views for scene '" +
                    in.scene + "'");
    auto part = [&](int k) { return out.rowRange(k * h, (k + 1) * h); };
    const double color_raw = psnr8(part(0), scene.right), color_fin = psnr8(part(1), scene.right);
    const double mono_raw = psnr8(part(2), scene.left), mono_fin = psnr8(part(3), scene.left);
    cv::Mat developed;
    develop_camera_frame(in.color_raw, false, "(colour)", InputOptions{}).convertTo(developed, CV_8U, 1.0 / 257.0);
    return std::vector<double>{color_raw,         color_fin, color_raw - color_fin, mono_raw, mono_fin,
                               mono_raw - mono_fin, psnr8(developed, scene.right), psnr8(in.color, scene.right)};
  };
  return detail::run_protocol(Protocol::Raw, scenes, four, options, progress, std::move(columns), score);
}

}  // namespace dualcam::eval
