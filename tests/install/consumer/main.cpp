#include <cstdio>

#include <dualcam/calibration/stereo_calibrate.hpp>
#include <dualcam/fusion/pipeline.hpp>

int main() {
  dualcam::fusion::FuseOptions options;
  options.validate();
  dualcam::calibration::StereoCalibrationOptions calibration;
  calibration.validate();
  std::printf("reference=%s\n", dualcam::fusion::to_string(options.reference));
  return 0;
}
