// The stereo views a calibration is built from (stereo_views.hpp): corners paired across the two
// cameras by the board's truth, whatever end of the board a camera's detector starts from; views
// without the board in one image reported with the reason calibrate_stereo gives; files and
// memory giving the same views for any thread count.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include <opencv2/calib3d.hpp>
#include <opencv2/core.hpp>

#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/calibration/stereo_views.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/raw.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::calibration;

namespace {

// 9x6 inner corners (10x7 squares) looks different turned by 180 degrees (its corner squares
// differ in colour), 9x7 (10x8 squares) looks the same: only its corners' order is the detector's
// choice.
const BoardSpec& chessboard() {
  static const BoardSpec b = parse_board_spec("chessboard:9x6:25mm");
  return b;
}
const BoardSpec& symmetric_chessboard() {
  static const BoardSpec b = parse_board_spec("chessboard:9x7:25mm");
  return b;
}

datasets::BoardSetOptions set_options() {
  datasets::BoardSetOptions o;
  o.views = 6;
  o.mono_size = {480, 360};
  o.color_size = {400, 300};
  o.outside_share = 0;  // the whole board in every image: every view pairs all its corners
  return o;
}

struct Fixture {
  const BoardSpec* board = nullptr;
  StereoRig rig;
  std::vector<datasets::BoardSetView> set;
  std::vector<ImagePair> pairs;
};

Fixture make_fixture(const BoardSpec& board) {
  const unsigned seed = 4;  // the board is found in every image of both sets
  Fixture x;
  x.board = &board;
  x.rig = datasets::random_rig(seed, set_options());
  x.set = datasets::render_board_set(x.rig, board, seed, set_options());
  for (const auto& v : x.set) x.pairs.push_back({"view" + std::to_string(x.pairs.size() + 1), v.mono, v.color});
  return x;
}

const Fixture& fixture(bool symmetric = false) {
  static const Fixture f = make_fixture(chessboard()), g = make_fixture(symmetric_chessboard());
  return symmetric ? g : f;
}

// The board corner (index into object_points) nearest to each detected corner, from the true
// pose; -1 when none is within 4 px (measured here: detections within 0.35 px of the truth,
// projected corners at least 8.5 px apart, so the nearest is unambiguous).
std::vector<int> true_corner_of(const Detection& d, const BoardSpec& board, const CameraModel& cam,
                                const cv::Matx33d& R, const cv::Vec3d& t) {
  std::vector<cv::Point2f> truth;
  cv::Vec3d rv;
  cv::Rodrigues(R, rv);
  cv::projectPoints(board.object_points(), rv, t, cv::Mat(cam.K), cam.dist, truth);
  std::vector<int> index;
  for (const auto& p : d.corners) {
    int best = -1;
    double best_d = 4.0;
    for (std::size_t k = 0; k < truth.size(); ++k)
      if (cv::norm(truth[k] - p) < best_d) best_d = cv::norm(truth[k] - p), best = int(k);
    index.push_back(best);
  }
  return index;
}

// How many corners of view i of `f` are paired with a different board corner in the other camera.
int mispaired(const Fixture& f, const StereoView& v, std::size_t i) {
  const auto& truth = f.set[i];
  REQUIRE(v.mono.found);
  REQUIRE(v.color.found);
  REQUIRE(v.mono.ids == v.color.ids);
  const std::vector<int> m =
      true_corner_of(v.mono, *f.board, f.rig.mono, truth.R_mono_from_board, truth.t_mono_from_board);
  const std::vector<int> c = true_corner_of(v.color, *f.board, f.rig.color, f.rig.R * truth.R_mono_from_board,
                                            f.rig.R * truth.t_mono_from_board + f.rig.T);
  int bad = 0;
  for (std::size_t k = 0; k < m.size(); ++k) {
    REQUIRE(m[k] >= 0);
    REQUIRE(c[k] >= 0);
    bad += m[k] != c[k];
  }
  return bad;
}

// detect_board on the image turned by 180 degrees, the corners put back in the image's own
// coordinates: a real detection whose list starts at the board's other end.
Detection detect_turned(const cv::Mat& image, const BoardSpec& board) {
  cv::Mat turned;
  cv::rotate(image, turned, cv::ROTATE_180);
  Detection d = detect_board(turned, board);
  for (auto& p : d.corners) p = {float(image.cols - 1) - p.x, float(image.rows - 1) - p.y};
  return d;
}

}  // namespace

TEST_CASE("Stereo views pair each corner with the same board corner in both cameras", "[calibrate][views]") {
  const bool symmetric = GENERATE(false, true);
  const Fixture& f = fixture(symmetric);
  const BoardSpec& board = *f.board;
  INFO("board " << board.to_string());
  const StereoViewSet plain = detect_stereo_views(f.pairs, board);
  REQUIRE(plain.views.size() == 6);
  CHECK(plain.mono_size == cv::Size(480, 360));
  CHECK(plain.color_size == cv::Size(400, 300));
  // The views with the board in both images (the renderer's blur and noise can hide one).
  std::vector<std::size_t> both;
  for (std::size_t i = 0; i < plain.views.size(); ++i) {
    INFO("view " << i + 1);
    CHECK(plain.views[i].name == f.pairs[i].name);
    if (!unusable_reason(plain.views[i]).empty()) continue;
    both.push_back(i);
    CHECK(int(plain.views[i].mono.corners.size()) == board.corner_count());
    CHECK(mispaired(f, plain.views[i], i) == 0);
  }
  CHECK(plain.unusable.size() == 6 - both.size());
  REQUIRE(both.size() >= 4);

  // The colour camera's detector starts from the board's other end: as OpenCV does on the image
  // turned by 180 degrees (for the symmetric board; the other one it reads by its colours), and
  // as the plain detection listed backwards.
  const BoardDetector turned_colour = [](const cv::Mat& image, const BoardSpec& b) {
    return image.channels() == 3 ? detect_turned(image, b) : detect_board(image, b);
  };
  const BoardDetector reversed_colour = [](const cv::Mat& image, const BoardSpec& b) {
    Detection d = detect_board(image, b);
    if (image.channels() == 3) std::reverse(d.corners.begin(), d.corners.end());
    return d;
  };
  for (const bool turned : {true, false}) {
    INFO((turned ? "turned colour image" : "colour corners reversed"));
    StereoViewOptions o;
    o.detector = turned ? turned_colour : reversed_colour;
    const StereoViewSet set = detect_stereo_views(f.pairs, board, o);
    // Without the ordering the pairs are wrong (so the check above can fail): count them.
    o.match_corner_order = false;
    const StereoViewSet unordered = detect_stereo_views(f.pairs, board, o);
    int views = 0, views_listed_backwards = 0;
    for (const std::size_t i : both) {
      INFO("view " << i + 1);
      if (!unusable_reason(set.views[i]).empty()) continue;  // the turned image may hide the board
      ++views;
      CHECK(mispaired(f, set.views[i], i) == 0);
      views_listed_backwards += mispaired(f, unordered.views[i], i) > 0;
    }
    CHECK(views >= 4);
    // Reversed: every view. Turned: the symmetric board's order is OpenCV's choice, made from the
    // image, so a turned image mostly starts it at the other end (in 4 of 5 to 6 of 6 views over
    // five seeds).
    if (!turned) CHECK(views_listed_backwards == views);
    else if (symmetric) CHECK(views_listed_backwards >= 1);
  }
}

TEST_CASE("A view without the board in one image is reported unusable with calibrate_stereo's reason",
          "[calibrate][views]") {
  const Fixture& f = fixture();
  std::vector<ImagePair> pairs = f.pairs;
  pairs[1].color = cv::Mat(pairs[1].color.size(), pairs[1].color.type(), cv::Scalar::all(128));
  pairs[3].mono = cv::Mat(pairs[3].mono.size(), pairs[3].mono.type(), cv::Scalar::all(40));
  const StereoViewSet set = detect_stereo_views(pairs, chessboard());
  REQUIRE(set.unusable.size() == 2);
  CHECK(set.unusable[0].index == 1);
  CHECK(set.unusable[0].name == "view2");
  CHECK(set.unusable[0].reason == "colour: chessboard 9x6 not found");
  CHECK(set.unusable[1].index == 3);
  CHECK(set.unusable[1].name == "view4");
  CHECK(set.unusable[1].reason == "mono: chessboard 9x6 not found");
  CHECK(set.views[1].mono.found);
  CHECK(set.views[3].color.found);
  CHECK(unusable_reason(set.views[0]).empty());

  StereoCalibrationOptions quick;
  quick.halves = false;
  quick.jackknife = false;
  const StereoCalibrationResult res = calibrate_stereo(set.views, chessboard(), set.mono_size, set.color_size, quick);
  REQUIRE(res.views.size() == 6);
  for (const UnusableView& u : set.unusable) {
    CHECK_FALSE(res.views[u.index].used);
    CHECK(res.views[u.index].reason == u.reason);
  }
  CHECK(res.views_used == 4);
}

TEST_CASE("Stereo views from files equal those from memory, for any thread count", "[calibrate][views]") {
  const Fixture& f = fixture();
  test::TempDir dir;
  std::vector<std::string> mono, color;
  for (std::size_t i = 0; i < f.pairs.size(); ++i) {
    mono.push_back(dir / ("m" + std::to_string(i + 1) + ".png"));
    color.push_back(dir / ("c" + std::to_string(i + 1) + ".png"));
    write_image(mono.back(), f.pairs[i].mono);
    write_image(color.back(), f.pairs[i].color);
  }
  const StereoViewSet memory = detect_stereo_views(f.pairs, chessboard());
  StereoViewOptions keep;
  keep.keep_images = true;
  for (int threads : {1, 3}) {
    ThreadScope scope(threads);
    const StereoViewSet files = scope.run([&] { return load_stereo_views(mono, color, chessboard(), keep); });
    REQUIRE(files.views.size() == memory.views.size());
    REQUIRE(files.mono_images.size() == f.pairs.size());
    for (std::size_t i = 0; i < files.views.size(); ++i) {
      INFO("view " << i + 1 << ", " << threads << " threads");
      CHECK(files.views[i].name == "m" + std::to_string(i + 1) + ".png+c" + std::to_string(i + 1) + ".png");
      CHECK(files.views[i].mono.corners == memory.views[i].mono.corners);
      CHECK(files.views[i].color.corners == memory.views[i].color.corners);
      CHECK(files.views[i].color.ids == memory.views[i].color.ids);
      CHECK(cv::norm(files.mono_images[i], f.pairs[i].mono, cv::NORM_INF) == 0);
      CHECK(cv::norm(files.color_images[i], f.pairs[i].color, cv::NORM_INF) == 0);
    }
  }
}

TEST_CASE("Stereo views from raw frames (DNG): the board found on the developed images", "[calibrate][views][raw]") {
  const Fixture& f = fixture();
  test::TempDir dir;
  std::vector<std::string> mono, color;
  // Each image back to linear light, quantised as a 12-bit sensor would; the colour one as an RGGB mosaic.
  auto frame = [](const cv::Mat& img, bool bayer) {
    const cv::Mat lin = to_linear(img);
    RawFrame r;
    r.bits = 12;
    r.white_level = 4095;
    r.cfa = bayer ? CfaPattern::Rggb : CfaPattern::None;
    r.samples.create(img.size(), CV_16UC1);
    for (int y = 0; y < img.rows; ++y)
      for (int x = 0; x < img.cols; ++x) {
        const float v = bayer ? lin.at<cv::Vec3f>(y, x)[cfa_channel(r.cfa, y, x)] : lin.at<float>(y, x);
        r.samples.at<std::uint16_t>(y, x) = std::uint16_t(std::lround(4095.0 * std::clamp(v, 0.0f, 1.0f)));
      }
    return r;
  };
  for (std::size_t i = 0; i < f.pairs.size(); ++i) {
    mono.push_back(dir / ("m" + std::to_string(i + 1) + ".dng"));
    color.push_back(dir / ("c" + std::to_string(i + 1) + ".dng"));
    write_dng(mono.back(), frame(f.pairs[i].mono, false));
    write_dng(color.back(), frame(f.pairs[i].color, true));
  }
  const StereoViewSet memory = detect_stereo_views(f.pairs, chessboard());
  const StereoViewSet raw = load_stereo_views(mono, color, chessboard());
  REQUIRE(raw.views.size() == memory.views.size());
  for (std::size_t i = 0; i < raw.views.size(); ++i) {
    INFO("view " << i + 1);
    REQUIRE(raw.views[i].mono.corners.size() == memory.views[i].mono.corners.size());
    REQUIRE(raw.views[i].color.corners.size() == memory.views[i].color.corners.size());
    double worst = 0;
    for (std::size_t k = 0; k < raw.views[i].mono.corners.size(); ++k)
      worst = std::max(worst, double(cv::norm(raw.views[i].mono.corners[k] - memory.views[i].mono.corners[k])));
    for (std::size_t k = 0; k < raw.views[i].color.corners.size(); ++k)
      worst = std::max(worst, double(cv::norm(raw.views[i].color.corners[k] - memory.views[i].color.corners[k])));
    CHECK(worst < 0.25);
  }
  // A colour camera's frame given as the mono is refused by the input rule, naming the file.
  CHECK_THROWS_WITH(load_stereo_views(color, color, chessboard()), Catch::Contains("c1.dng") && Catch::Contains("Bayer pattern"));
}
