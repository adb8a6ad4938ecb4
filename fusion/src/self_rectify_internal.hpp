#pragma once
// The parts of self-rectification (self_rectify.hpp) that self_rectify.cpp assembles: the
// cross-spectral matches (self_rectify_match.cpp) and the quasi-Euclidean fit
// (quasi_euclidean.cpp). Private to fusion; tests reach them through self_rectify().
#include <array>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/fusion/self_rectify.hpp"

namespace dualcam::fusion::detail {

struct CrossSpectralMatches {
  int matches = 0;         // AKAZE matches after the ratio test and the mutual check
  FeatureMatches refined;  // consistent with a loose epipolar fit, re-positioned by correlation (full-resolution px)
};

// mono8, color8: CV_8UC1 of any sizes.
CrossSpectralMatches cross_spectral_matches(const cv::Mat& mono8, const cv::Mat& color8, const SelfRectifyOptions& options);

// Pixel (x, y) of an image of `size` -> the same pixel in that image turned clockwise by
// quarter_turns (0..3) * 90 degrees (1: cv::ROTATE_90_CLOCKWISE). `turned`: the turned size.
cv::Matx33d quarter_turn(int quarter_turns, const cv::Size& size, cv::Size* turned = nullptr);

// Quasi-Euclidean rectification (Fusiello & Irsara 2011). Each view is first turned by
// `quarter_turns` (so that the baseline runs roughly along the turned rows); then camera i is
// K_i = [f_i 0 w_i/2; 0 f_i h_i/2; 0 0 1] (turned sizes), f_mono = max(w, h) * 3^alpha and
// f_colour = f_mono * exp(log_ratio); the rectifying homographies are K_mono R_i K_i^-1 (both
// views brought to the mono's intrinsics), R_mono = Ry Rz and R_colour = Rx Ry Rz (the common
// rotation about the baseline is free and set to 0 for the mono), and the rectified colour view
// shifted by t_y along its columns: a principal point off the image centre across the baseline.
// (Fusiello & Irsara put both principal points at the centre; a colour image 64 px off across a
// vertical baseline then drove the focal length to 8x its value, the only way a rotation can
// mimic a shift, and left 0.8 px rms on the true rows; along the baseline a shift is only a
// disparity offset.)
struct QuasiEuclidean {
  // yaw_mono, roll_mono, pitch_colour, yaw_colour, roll_colour (rad), alpha, log_ratio, t_y (px)
  std::array<double, 8> params{};
  cv::Matx33d H_mono, H_color;  // original px -> rectified px (turn included)
  double cost = 0;              // mean squared Sampson error of the matches, px^2
  double objective = 0;         // what the fit minimised, per match: cost plus the prior's share, px^2
  double focal_px = 0, focal_ratio = 1;
  int iterations = 0;
};

// Levenberg-Marquardt from `start` (its params; zero rotations and the given log_ratio for a
// first fit). `prior_px_per_rad`: each rotation (alpha a tenth as strongly, t_y as the angle
// t_y / f) is pulled to 0 as though it added prior * angle px to every match's Sampson error.
QuasiEuclidean fit_quasi_euclidean(const FeatureMatches& m, const cv::Size& mono_size, const cv::Size& color_size,
                                   int quarter_turns, const std::array<double, 8>& start, double prior_px_per_rad);

// Signed Sampson distance (px) of every match to the epipolar geometry b^T F a = 0.
std::vector<double> sampson_errors(const cv::Matx33d& F, const FeatureMatches& m);

}  // namespace dualcam::fusion::detail
