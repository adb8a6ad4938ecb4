// The calibration peer (OpenCV's detector and stereoCalibrate, calib_peer.hpp) and the
// calibration protocols (calib_eval.hpp): the peer recovers a simulated rig, refuses what it
// cannot do, and on the real session the engine's rig is no worse than the peer's on the peer's
// own pairs and corners.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>

#include <opencv2/calib3d.hpp>

#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/eval/calib_eval.hpp"
#include "dualcam/eval/calib_peer.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::eval;

namespace {

datasets::BoardSetOptions small_set() {
  datasets::BoardSetOptions o;
  o.views = 8;
  o.mono_size = {560, 420};
  o.color_size = {480, 360};
  o.outside_share = 0;  // the whole board in every view
  return o;
}

}  // namespace

TEST_CASE("Calibration peer: OpenCV's detector and stereoCalibrate recover a simulated rig", "[eval][calib]") {
  const BoardSpec board = calibration::parse_board_spec("chessboard:9x6:25mm");
  const auto o = small_set();
  const StereoRig truth = datasets::random_rig(5, o);
  const auto set = datasets::render_board_set(truth, board, 5, o);
  std::vector<StereoView> views;
  for (const auto& v : set) views.push_back({"v" + std::to_string(views.size()), detect_board_peer(v.mono, board),
                                             detect_board_peer(v.color, board)});
  const PeerResult peer = calibrate_stereo_peer(views, board, o.mono_size, o.color_size);
  INFO("views " << peer.views_used << ", RMS " << peer.rms_px << " px, baseline " << peer.rig.baseline() << " of "
                << truth.baseline() << " mm");
  CHECK(peer.views_used >= 6);
  CHECK(peer.views_used + int(peer.skipped.size()) == int(views.size()));
  CHECK(peer.rms_px < 0.5);
  CHECK(std::abs(peer.rig.baseline() - truth.baseline()) / truth.baseline() < 0.02);
  CHECK(std::abs(peer.rig.mono.K(0, 0) - truth.mono.K(0, 0)) / truth.mono.K(0, 0) < 0.01);
  CHECK(peer.row_error_px < 0.5);

  CHECK_THROWS_AS(detect_board_peer(set[0].mono, calibration::parse_board_spec("charuco:DICT_5X5_100:8x6:30mm:18mm")),
                  Error);
  try {
    calibrate_stereo_peer({views[0]}, board, o.mono_size, o.color_size);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::Calibration);
  }
}

TEST_CASE("Calibration protocols: bad options are refused before any work", "[eval][calib][bad]") {
  CalibEvalOptions o;
  o.protocol = "calib-synthetic";
  o.method = "opencv";
  CHECK_THROWS_AS(run_calib_eval(o, nullptr), Error);
  o.method = "both";
  o.rigs = 0;
  CHECK_THROWS_AS(run_calib_eval(o, nullptr), Error);
  o.rigs = 1;
  o.protocol = "calib-other";
  CHECK_THROWS_AS(run_calib_eval(o, nullptr), Error);
  o.protocol = "calib-real";
  o.data = "/nonexistent/calibration/sessions";
  try {
    run_calib_eval(o, nullptr);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::IO);
  }
}

TEST_CASE("Real stereo set (session2): on the peer's own pairs and corners the engine's rig is no worse than OpenCV's",
          "[eval][calib][real]") {
  const std::string data = test::shared_data_dir();
  const std::string dir = data + "/stereo_calib_sourishg/session2";
  if (data.empty() || !std::filesystem::is_directory(dir)) {
    DUALCAM_SKIP(dir << " is absent");
  }
  const BoardSpec board = calibration::parse_board_spec("chessboard:9x6:24.23mm");
  std::vector<StereoView> views;
  cv::Size ms, cs;
  for (int i = 1; i <= 28; ++i) {
    const cv::Mat a = read_image(dir + "/left" + std::to_string(i) + ".jpg");
    const cv::Mat b = read_image(dir + "/right" + std::to_string(i) + ".jpg");
    ms = a.size(), cs = b.size();
    StereoView v;
    v.name = std::to_string(i);
    v.mono = calibration::detect_board(a, board);
    v.color = calibration::detect_board(b, board);
    calibration::match_corner_order(v.mono, v.color);
    views.push_back(v);
  }
  calibration::StereoCalibrationOptions co;
  co.halves = false;  // the rig only
  co.jackknife = false;
  const calibration::StereoCalibrationResult res = calibration::calibrate_stereo(views, board, ms, cs, co);
  const PeerResult peer = calibrate_stereo_peer(views, board, ms, cs);
  const double on_peer = calibration::rectified_row_error(
      res.rig, rectify_geometry(res.rig, calibration::row_error_rectify()), peer.used);
  INFO("engine: RMS " << res.rms_px << ", row " << res.row_error_px << ", on the peer's pairs " << on_peer
                      << "; OpenCV on the same corners: " << peer.views_used << " views, RMS " << peer.rms_px
                      << ", row " << peer.row_error_px);
  CHECK(peer.views_used == 28);
  CHECK(on_peer <= peer.row_error_px + 1e-3);
  CHECK(res.rms_px <= peer.rms_px);
}
