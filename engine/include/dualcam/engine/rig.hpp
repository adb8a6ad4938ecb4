#pragma once
// StereoRig: the calibration of a colour + mono module.
//
// Frames: camera 1 is the MONO camera, camera 2 the COLOUR camera (OpenCV stereo_calib order).
// `R`, `T` map a point from the mono camera frame to the colour camera frame:
//   X_color = R * X_mono + T      (T in the same unit as the board square, usually mm)
// Intrinsics K follow OpenCV's pinhole model with distortion (k1 k2 p1 p2 [k3 ...]).
//
// File format: OpenCV FileStorage YAML with the keys of OpenCV's stereo calibration sample,
// so `cv::FileStorage` reads it unchanged:
//   M1 D1 M2 D2 R T [E F R1 R2 P1 P2 Q]   plus  size1 size2 ([width, height] of each camera)
// and optional scalar extras (rms_px, uncertainties, ...) stored as plain numbers.
#include <map>
#include <string>

#include <opencv2/core.hpp>

namespace dualcam {

struct CameraModel {
  cv::Matx33d K = cv::Matx33d::eye();  // pixels
  cv::Mat dist = cv::Mat::zeros(1, 5, CV_64F);  // k1 k2 p1 p2 k3 (1xN, CV_64F, N in {4,5,8,12,14})
  cv::Size size;  // image size in pixels
};

struct StereoRig {
  CameraModel mono;   // camera 1
  CameraModel color;  // camera 2
  cv::Matx33d R = cv::Matx33d::eye();  // color_from_mono rotation
  cv::Vec3d T{0, 0, 0};                // color_from_mono translation
  // Optional scalar extras written next to the calibration (e.g. "rms_px").
  std::map<std::string, double> extras;

  // Throws Error(InvalidInput) naming the problem: non-finite values, non-positive focal
  // lengths or sizes, an R that is not a rotation, a zero baseline.
  void validate() const;

  double baseline() const { return cv::norm(T); }
  cv::Matx33d essential() const;
  cv::Matx33d fundamental() const;
};

// Reads a rig file; throws Error(IO) if the file is missing, Error(InvalidInput) naming the
// key when a key is missing or malformed or when validate() fails.
StereoRig read_rig(const std::string& path);
StereoRig parse_rig(const std::string& yaml_text, const std::string& name);

// Extra matrices written beside the rig (e.g. rectification R1 R2 P1 P2 Q from calibration).
using RigMatrices = std::map<std::string, cv::Mat>;

// Writes the rig atomically (E and F are derived and written too).
void write_rig(const std::string& path, const StereoRig& rig, const RigMatrices& extra = {});
std::string format_rig(const StereoRig& rig, const RigMatrices& extra = {});

}  // namespace dualcam
