#pragma once
// Tiny synthetic scenes in Middlebury 2005/2006 format, written by the tests: a textured right
// image, and a left image built from it by a known integer disparity (background plane + a
// nearer rectangle), so the truth is exact.
#include <string>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/image_io.hpp"

namespace dualcam::test {

struct SyntheticScene {
  cv::Mat left, right;  // CV_8UC3
  cv::Mat disparity;    // CV_32F px (integer values), left view
};

inline SyntheticScene make_synthetic_scene(int seed, cv::Size size = {96, 64}, int d_back = 4, int d_front = 9) {
  cv::RNG rng(std::uint64_t(seed) * 7919 + 17);
  cv::Mat noise(size, CV_8UC3);
  rng.fill(noise, cv::RNG::UNIFORM, 0, 256);
  cv::Mat right;
  cv::GaussianBlur(noise, right, {3, 3}, 0.7);
  SyntheticScene s;
  s.right = right;
  s.disparity = cv::Mat(size, CV_32F, cv::Scalar(d_back));
  const cv::Rect front(size.width / 3, size.height / 4, size.width / 3, size.height / 2);
  s.disparity(front).setTo(d_front);
  s.left = cv::Mat(size, CV_8UC3);
  for (int r = 0; r < size.height; ++r)
    for (int c = 0; c < size.width; ++c) {
      const int d = int(s.disparity.at<float>(r, c));
      const int xr = c - d;
      s.left.at<cv::Vec3b>(r, c) = xr >= 0 ? right.at<cv::Vec3b>(r, xr) : noise.at<cv::Vec3b>(r, c);
    }
  return s;
}

// Writes view1.png, view5.png, disp1.png (value = 3 * disparity, 0 = unknown; the top-left
// 4x4 corner is left unknown) into `dir`, which must exist.
inline void write_middlebury_2005(const SyntheticScene& s, const std::string& dir) {
  write_image(dir + "/view1.png", s.left);
  write_image(dir + "/view5.png", s.right);
  cv::Mat d8;
  s.disparity.convertTo(d8, CV_8U, 3.0);
  d8(cv::Rect(0, 0, 4, 4)).setTo(0);
  write_image(dir + "/disp1.png", d8);
}

}  // namespace dualcam::test
