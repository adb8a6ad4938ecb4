#pragma once
// The calibration evaluation protocols (docs/evaluation.md#calib-synthetic, #calib-real):
// calib-synthetic (random rigs rendered by datasets/board_sim.hpp, scored against the truth) and
// calib-real (the stereo_calib_sourishg sessions, scored by RMS, rectified row error and the
// odd/even halves), each for dualcam's calibration ("engine") and for OpenCV's stereoCalibrate as
// a user would run it ("peer", calib_peer.hpp). `dualcam eval --protocol calib-synthetic|calib-real`
// calls it.
#include <cstdio>
#include <string>

#include "dualcam/engine/report.hpp"

namespace dualcam::eval {

struct CalibEvalOptions {
  std::string protocol;         // calib-synthetic or calib-real
  std::string data;             // calib-real: folder holding session*/left*.jpg, right*.jpg
  std::string method = "both";  // engine, peer or both
  int rigs = 20;                // calib-synthetic: random rigs, count, 1..10000
  int views = 20;               // calib-synthetic: board views per rig, count, 4..10000
  unsigned seed = 1;            // calib-synthetic: first rig's seed
  std::string board;            // board spec (default chessboard:9x6:25mm synthetic, 24.23mm real)
  void validate() const;
};

// Runs the protocol, printing its table to `log` (may be null) as it goes; returns the per-rig or
// per-session numbers and the summaries.
Json run_calib_eval(const CalibEvalOptions& options, std::FILE* log);

}  // namespace dualcam::eval
