#pragma once
// Loading board image pairs and detecting the board in them (`dualcam calibrate`).
#include <string>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/engine/progress.hpp"

namespace dualcam::app {

struct PairSet {
  std::vector<calibration::StereoView> views;
  std::vector<cv::Mat> mono_images, color_images;  // kept only when asked
  cv::Size mono_size, color_size;
};

// Reads the pairs (matched by order) and detects the board in each image (in parallel). Throws
// Error(InvalidInput) when the counts or the image sizes within one camera differ, and
// Error(Calibration) when the board is found in no image at all.
PairSet load_pairs(const std::vector<std::string>& mono, const std::vector<std::string>& color,
                   const calibration::BoardSpec& board, std::int64_t max_pixels,
                   bool keep_images, Progress* progress);

}  // namespace dualcam::app
