#pragma once
// Disparity clean-up after matching.
#include <opencv2/core.hpp>

namespace dualcam::fusion {

// Fills unknown (NaN) pixels row by row from the nearer valid neighbour on the BACKGROUND side
// (the smaller of the two disparities on the left and right): occlusions belong to the farther
// surface. Rows with no valid pixel stay NaN.
void fill_holes_background(cv::Mat& disparity);

// 5x5 median that ignores nothing: call after fill_holes_background. NaN pixels stay NaN.
void median_5x5(cv::Mat& disparity);

}  // namespace dualcam::fusion
