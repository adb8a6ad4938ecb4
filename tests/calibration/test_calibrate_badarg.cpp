// Bad arguments to calibration's public functions: each is a dualcam::Error with its category and
// a message naming what is wrong in the library's own terms, never a cv::Exception (an OpenCV
// CV_Assert surfaces as "internal error", exit code 1, in the CLI) or a crash.
#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>
#include <utility>

#include <opencv2/imgproc.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/calibration/stereo_views.hpp"
#include "dualcam/datasets/board_render.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/image_io.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::calibration;

namespace {

// Runs f and expects an Error of `category` whose message contains `fragment`.
template <typename F>
void expect_error(F&& f, ErrorCategory category, const std::string& fragment) {
  try {
    f();
    FAIL("expected an error containing '" << fragment << "'");
  } catch (const Error& e) {
    INFO(e.what());
    CHECK(e.category() == category);
    CHECK(std::string(e.what()).find(fragment) != std::string::npos);
  } catch (const std::exception& e) {
    FAIL("not a dualcam::Error: " << e.what());
  }
}

const BoardSpec& chessboard() {
  static const BoardSpec b = parse_board_spec("chessboard:9x6:25mm");
  return b;
}

// A small synthetic set whose views all have the board in both images (seed 4; checked below).
const std::vector<datasets::BoardSetView>& board_set() {
  static const std::vector<datasets::BoardSetView> set = [] {
    datasets::BoardSetOptions o;
    o.views = 6;
    o.mono_size = {480, 360};
    o.color_size = {400, 300};
    o.outside_share = 0;
    return datasets::render_board_set(datasets::random_rig(4, o), chessboard(), 4, o);
  }();
  return set;
}

std::vector<StereoView> detected_views() {
  static const std::vector<StereoView> views = [] {
    std::vector<ImagePair> pairs;
    for (const auto& v : board_set()) pairs.push_back({"view" + std::to_string(pairs.size() + 1), v.mono, v.color});
    return detect_stereo_views(pairs, chessboard()).views;
  }();
  return views;
}

const cv::Size kMono{480, 360}, kColor{400, 300};

}  // namespace

TEST_CASE("detect_board refuses images it cannot read as grey or colour", "[calibrate][bad]") {
  const BoardSpec charuco = parse_board_spec("charuco:DICT_5X5_100:11x8:15mm:11mm");
  for (const BoardSpec* board : {&chessboard(), &charuco}) {
    expect_error([&] { detect_board(cv::Mat(), *board); }, ErrorCategory::InvalidInput, "empty");
    expect_error([&] { detect_board(cv::Mat(100, 100, CV_32F, cv::Scalar(0.5)), *board); }, ErrorCategory::InvalidInput,
                 "8- or 16-bit");
    expect_error([&] { detect_board(cv::Mat(100, 100, CV_8UC4, cv::Scalar::all(128)), *board); },
                 ErrorCategory::InvalidInput, "1 or 3 channels");
    expect_error([&] { detect_board(cv::Mat(100, 100, CV_8UC2, cv::Scalar::all(128)), *board); },
                 ErrorCategory::InvalidInput, "1 or 3 channels");
    expect_error([&] { detect_board(cv::Mat(100, 100, CV_16SC1, cv::Scalar(0)), *board); }, ErrorCategory::InvalidInput,
                 "8- or 16-bit");
    // Valid but hopeless images: not found, with a reason, no error.
    for (const cv::Mat& img : {cv::Mat(2, 2, CV_8U, cv::Scalar(0)), cv::Mat(1, 300, CV_8UC3, cv::Scalar::all(90)),
                               cv::Mat(64, 64, CV_16U, cv::Scalar(1000))}) {
      Detection d;
      REQUIRE_NOTHROW(d = detect_board(img, *board));
      CHECK_FALSE(d.found);
      CHECK_FALSE(d.reason.empty());
    }
  }
  BoardSpec bad = chessboard();
  bad.cols = 1;
  expect_error([&] { detect_board(board_set()[0].mono, bad); }, ErrorCategory::InvalidInput, "board grid");
}

TEST_CASE("refine_chessboard_corners refuses an empty image and corners off the image", "[calibrate][bad]") {
  const cv::Size pattern(9, 6);
  std::vector<cv::Point2f> corners(54, cv::Point2f(10, 10));
  expect_error([&] { refine_chessboard_corners(cv::Mat(), pattern, corners); }, ErrorCategory::InvalidInput, "empty");
  expect_error([&] { refine_chessboard_corners(cv::Mat(100, 100, CV_8UC3), pattern, corners); },
               ErrorCategory::InvalidInput, "single-channel");
  std::vector<cv::Point2f> few(10);
  expect_error([&] { refine_chessboard_corners(cv::Mat(100, 100, CV_8U), pattern, few); }, ErrorCategory::InvalidInput,
               "corner count");
  const cv::Mat img(100, 100, CV_8U, cv::Scalar(128));
  std::vector<cv::Point2f> outside = corners;
  outside[3] = cv::Point2f(-50, 400);
  expect_error([&] { refine_chessboard_corners(img, pattern, outside); }, ErrorCategory::InvalidInput, "outside");
  std::vector<cv::Point2f> nan = corners;
  nan[5].x = std::numeric_limits<float>::quiet_NaN();
  expect_error([&] { refine_chessboard_corners(img, pattern, nan); }, ErrorCategory::InvalidInput, "outside");
  CornerRefineOptions o;
  o.window_share = 0;
  expect_error([&] { refine_chessboard_corners(img, pattern, corners, o); }, ErrorCategory::InvalidInput,
               "CornerRefineOptions::window_share");
}

TEST_CASE("calibrate_stereo refuses malformed detections, naming the view", "[calibrate][bad]") {
  const std::vector<StereoView> good = detected_views();
  REQUIRE(good.size() == 6);
  for (const auto& v : good) REQUIRE(unusable_reason(v).empty());
  auto broken = [&](auto&& edit) {
    std::vector<StereoView> v = good;
    edit(v[2]);
    return v;
  };
  const StereoRig rig = datasets::random_rig(5, {});
  const RectifyGeometry g = rectify_geometry(rig, row_error_rectify());
  REQUIRE_NOTHROW(rectified_row_error(rig, g, good));
  // rectified_row_error pairs corners by id and never looks at the board, so an id outside it is
  // harmless there; the other breaks make it read past the corners or average NaN.
  auto refuses = [&](const std::vector<StereoView>& views, const std::string& fragment, bool row_error_too) {
    expect_error([&] { calibrate_stereo(views, chessboard(), kMono, kColor); }, ErrorCategory::InvalidInput,
                 "calibrate_stereo: view 'view3', ");
    expect_error([&] { calibrate_stereo(views, chessboard(), kMono, kColor); }, ErrorCategory::InvalidInput, fragment);
    if (row_error_too)
      expect_error([&] { rectified_row_error(rig, g, views); }, ErrorCategory::InvalidInput,
                   "rectified_row_error: view 'view3', " + fragment);
  };
  refuses(broken([](StereoView& v) { v.mono.ids.pop_back(); }), "mono: 53 ids for 54 corners", true);
  refuses(broken([](StereoView& v) { v.color.corners.push_back({1, 1}); }), "colour: 54 ids for 55 corners", true);
  refuses(broken([](StereoView& v) { v.color.ids[0] = 54; }), "id 54 is not a corner", false);
  refuses(broken([](StereoView& v) { v.color.ids[0] = -1; }), "id -1 is not a corner", false);
  refuses(broken([](StereoView& v) { v.mono.ids[1] = v.mono.ids[0]; }), "mono: id 0 appears twice", true);
  refuses(broken([](StereoView& v) { v.color.corners[4].y = std::numeric_limits<float>::infinity(); }),
          "colour: corner 4 (id 4) is non-finite", true);
  refuses(broken([](StereoView& v) { v.mono.corners[0].x = std::numeric_limits<float>::quiet_NaN(); }),
          "mono: corner 0 (id 0) is non-finite", true);
  // A detection that is not `found` is not looked at (it is reported as unusable).
  std::vector<StereoView> unfound = broken([](StereoView& v) {
    v.mono.found = false;
    v.mono.ids.clear();
  });
  StereoCalibrationOptions quick;
  quick.halves = false;
  quick.jackknife = false;
  StereoCalibrationResult r;
  REQUIRE_NOTHROW(r = calibrate_stereo(unfound, chessboard(), kMono, kColor, quick));
  CHECK_FALSE(r.views[2].used);
}

TEST_CASE("calibrate_stereo reports too few views, bad sizes and options as errors of their kind", "[calibrate][bad]") {
  const std::vector<StereoView> good = detected_views();
  expect_error([&] { calibrate_stereo({}, chessboard(), kMono, kColor); }, ErrorCategory::Calibration, "only 0 of 0");
  expect_error([&] { calibrate_stereo({good[0], good[1]}, chessboard(), kMono, kColor); }, ErrorCategory::Calibration,
               "need 4");
  expect_error([&] { calibrate_stereo(good, chessboard(), {0, 360}, kColor); }, ErrorCategory::InvalidInput,
               "image sizes");
  StereoCalibrationOptions o;
  o.min_views = 1;
  expect_error([&] { calibrate_stereo(good, chessboard(), kMono, kColor, o); }, ErrorCategory::InvalidInput,
               "StereoCalibrationOptions::min_views");
  o = {};
  o.fixed = {"mono.k7"};
  expect_error([&] { calibrate_stereo(good, chessboard(), kMono, kColor, o); }, ErrorCategory::InvalidInput, "mono.k7");
  o = {};
  o.rectify.alpha = 7;
  expect_error([&] { calibrate_stereo(good, chessboard(), kMono, kColor, o); }, ErrorCategory::InvalidInput, "alpha");
  // The same view four times: no spread of poses to calibrate from.
  StereoCalibrationOptions quick;
  quick.halves = false;
  quick.jackknife = false;
  const std::vector<StereoView> same(4, good[0]);
  try {
    calibrate_stereo(same, chessboard(), kMono, kColor, quick);
    // A solver may still return something for identical views; it must then be a valid rig.
  } catch (const Error& e) {
    CHECK((e.category() == ErrorCategory::Calibration || e.category() == ErrorCategory::Numerical));
  } catch (const std::exception& e) {
    FAIL("not a dualcam::Error: " << e.what());
  }
  // Image sizes far too small for the detected corners.
  try {
    calibrate_stereo(good, chessboard(), {8, 6}, {8, 6}, quick);
  } catch (const Error& e) {
    CHECK((e.category() == ErrorCategory::Calibration || e.category() == ErrorCategory::Numerical));
  } catch (const std::exception& e) {
    FAIL("not a dualcam::Error: " << e.what());
  }
}

TEST_CASE("rectified_row_error refuses an invalid rig", "[calibrate][bad]") {
  StereoRig rig = datasets::random_rig(5, {});
  const RectifyGeometry g = rectify_geometry(rig, row_error_rectify());
  rig.mono.dist = cv::Mat();
  expect_error([&] { rectified_row_error(rig, g, detected_views()); }, ErrorCategory::InvalidInput,
               "rectified_row_error: rig: mono (M1/D1) distortion");
  rig = datasets::random_rig(5, {});
  rig.R(0, 0) = std::numeric_limits<double>::quiet_NaN();
  expect_error([&] { rectified_row_error(rig, g, detected_views()); }, ErrorCategory::InvalidInput, "non-finite");
  rig = datasets::random_rig(5, {});
  rig.color.dist = cv::Mat::zeros(1, 3, CV_64F);
  expect_error([&] { rectified_row_error(rig, g, detected_views()); }, ErrorCategory::InvalidInput,
               "coefficients, got 3");
}

TEST_CASE("Stereo-view detection refuses mismatched, empty and differently sized pairs", "[calibrate][bad]") {
  const auto& set = board_set();
  const cv::Mat& m = set[0].mono;
  const cv::Mat& c = set[0].color;
  expect_error([&] { detect_stereo_view(cv::Mat(), c, chessboard(), "p1"); }, ErrorCategory::InvalidInput,
               "mono image of pair 'p1' is empty");
  expect_error([&] { detect_stereo_view(m, cv::Mat(50, 50, CV_32FC3), chessboard(), "p1"); },
               ErrorCategory::InvalidInput, "colour image of pair 'p1'");
  expect_error([&] { detect_stereo_views({}, chessboard()); }, ErrorCategory::InvalidInput, "no image pairs");
  cv::Mat smaller;
  cv::resize(set[1].mono, smaller, {240, 180});
  expect_error([&] { detect_stereo_views({{"a", m, c}, {"b", smaller, set[1].color}}, chessboard()); },
               ErrorCategory::InvalidInput, "mono image of pair 'b' is 240x180 but that of pair 'a' is 480x360");
  cv::Mat smaller_c;
  cv::resize(set[1].color, smaller_c, {200, 150});
  expect_error([&] { detect_stereo_views({{"a", m, c}, {"b", set[1].mono, smaller_c}}, chessboard()); },
               ErrorCategory::InvalidInput, "colour image of pair 'b' is 200x150");
  // No board anywhere: a calibration error naming the board.
  const cv::Mat grey(360, 480, CV_8U, cv::Scalar(120)), grey_c(300, 400, CV_8UC3, cv::Scalar::all(120));
  expect_error([&] { detect_stereo_views({{"a", grey, grey_c}, {"b", grey, grey_c}}, chessboard()); },
               ErrorCategory::Calibration, "in any of the 2 image pairs (board chessboard:9x6:25mm");
  StereoViewOptions o;
  o.max_pixels = -1;
  expect_error([&] { detect_stereo_views({{"a", m, c}}, chessboard(), o); }, ErrorCategory::InvalidInput,
               "StereoViewOptions::max_pixels");
}

TEST_CASE("load_stereo_views refuses mismatched lists and names the file that is wrong", "[calibrate][bad]") {
  test::TempDir dir;
  const auto& set = board_set();
  const std::string m1 = dir / "m1.png", c1 = dir / "c1.png", m2 = dir / "m2.png", c2 = dir / "c2.png";
  write_image(m1, set[0].mono);
  write_image(c1, set[0].color);
  cv::Mat smaller;
  cv::resize(set[1].mono, smaller, {240, 180});
  write_image(m2, smaller);
  write_image(c2, set[1].color);
  expect_error([&] { load_stereo_views({m1, m2}, {c1}, chessboard()); }, ErrorCategory::InvalidInput,
               "counts must agree");
  expect_error([&] { load_stereo_views({}, {}, chessboard()); }, ErrorCategory::InvalidInput, "no image pairs");
  expect_error([&] { load_stereo_views({m1, m2}, {c1, c2}, chessboard()); }, ErrorCategory::InvalidInput,
               "mono image '" + m2 + "' is 240x180 but '" + m1 + "' is 480x360");
  expect_error([&] { load_stereo_views({m1, dir / "missing.png"}, {c1, c2}, chessboard()); }, ErrorCategory::IO,
               "missing.png");
  StereoViewOptions small;
  small.max_pixels = 1000;
  expect_error([&] { load_stereo_views({m1}, {c1}, chessboard(), small); }, ErrorCategory::InvalidInput, "m1.png");
  // The good pair alone loads, named after its two files.
  const StereoViewSet one = load_stereo_views({m1}, {c1}, chessboard());
  REQUIRE(one.views.size() == 1);
  CHECK(one.views[0].name == "m1.png+c1.png");
  CHECK(one.mono_size == cv::Size(480, 360));
  CHECK(one.color_size == cv::Size(400, 300));
  CHECK(one.mono_images.empty());
}

TEST_CASE("Every function taking a board refuses one it cannot model", "[calibrate][bad]") {
  const auto& set = board_set();
  const std::vector<StereoView> views = detected_views();
  std::vector<std::pair<BoardSpec, std::string>> bad;
  BoardSpec b = chessboard();
  b.cols = 0;
  bad.push_back({b, "board grid"});
  b = chessboard();
  b.rows = 0;
  bad.push_back({b, "board grid"});
  b = chessboard();
  b.square_mm = 0;
  bad.push_back({b, "square size"});
  b = chessboard();
  b.square_mm = std::numeric_limits<double>::quiet_NaN();
  bad.push_back({b, "square size"});
  b = parse_board_spec("charuco:DICT_5X5_100:11x8:15mm:11mm");
  b.marker_mm = 15;
  bad.push_back({b, "marker size"});
  b = parse_board_spec("charuco:DICT_5X5_100:11x8:15mm:11mm");
  b.dictionary = "DICT_NOPE";
  bad.push_back({b, "DICT_NOPE"});
  for (const auto& entry : bad) {
    const BoardSpec& board = entry.first;
    const std::string& fragment = entry.second;
    INFO(fragment);
    const auto k = ErrorCategory::InvalidInput;
    expect_error([&] { detect_board(set[0].mono, board); }, k, fragment);
    expect_error([&] { datasets::BoardPattern p(board); }, k, fragment);  // the simulator's, on the same specs
    expect_error([&] { detect_stereo_view(set[0].mono, set[0].color, board, "p"); }, k, fragment);
    expect_error([&] { detect_stereo_views({{"p", set[0].mono, set[0].color}}, board); }, k, fragment);
    expect_error([&] { load_stereo_views({"m.png"}, {"c.png"}, board); }, k, fragment);
    expect_error([&] { calibrate_stereo(views, board, kMono, kColor); }, k, fragment);
  }
}
