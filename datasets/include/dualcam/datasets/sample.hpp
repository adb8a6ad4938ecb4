#pragma once
// The embedded sample: a small synthetic colour + mono pair with its rig and ground truth,
// generated deterministically (no third-party images in the repository). Used by the README's
// first command, by the end-to-end tests and as a quick demo.
#include <cstdint>
#include <string>

#include <opencv2/core.hpp>

#include "dualcam/datasets/sensor.hpp"
#include "dualcam/engine/rig.hpp"

namespace dualcam::datasets {

struct SampleOptions {
  std::uint32_t seed = 7;
  cv::Size size{480, 360};  // both cameras
  double light = 0.1;       // colour camera light level (dim indoor)
  MonoSensor mono;
  int supersample = 3;
  void validate() const;
};

struct Sample {
  StereoRig rig;               // the true rig (mono = camera 1, colour = camera 2)
  cv::Mat mono;                // CV_8UC1, what the mono camera writes
  cv::Mat color;               // CV_8UC3, what the colour camera writes (noisy, demosaiced)
  cv::Mat truth_color_at_color;  // CV_8UC3 clean colour image at the colour view
  cv::Mat truth_color_at_mono;   // CV_8UC3 clean colour image at the mono view
  cv::Mat disparity_mono;      // CV_32F true disparity at the mono view (engine/disparity.hpp), NaN = none
  cv::Mat disparity_color;     // CV_32F true disparity at the colour view
};

Sample make_sample(const SampleOptions& options = {});

// Writes mono.png, color.png, rig.yaml, truth_color.png, truth_mono_view.png,
// disparity_mono.pfm, disparity_color.pfm into `dir` (which must exist).
void write_sample(const Sample& sample, const std::string& dir);

}  // namespace dualcam::datasets
