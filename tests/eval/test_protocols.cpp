// Evaluation protocols on a tiny generated set: exact truth scores perfectly, broken methods
// score badly, seeds are deterministic, results serialise.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>

#include <opencv2/imgproc.hpp>

#include "datasets/synthetic_middlebury.hpp"
#include "dualcam/eval/protocol.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/eval/peers.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::datasets;
using namespace dualcam::eval;
namespace fs = std::filesystem;

namespace {

struct TinySet {
  test::TempDir dir;
  std::vector<SceneSource> scenes;
  TinySet() {
    for (int i = 0; i < 3; ++i) {
      const fs::path p = dir.path() / ("scene" + std::to_string(i));
      fs::create_directories(p);
      test::write_middlebury_2005(test::make_synthetic_scene(i), p.string());
    }
    scenes = find_scenes(dir.path().string());
  }
  // The loaded truth of each scene, for methods that cheat on purpose.
  std::map<std::string, MiddleburyScene> loaded() const {
    std::map<std::string, MiddleburyScene> m;
    for (const auto& s : scenes) m[s.name] = load_scene(s);
    return m;
  }
};

}  // namespace

TEST_CASE("DEPTH: the truth scores 0 % bad, broken methods score badly", "[eval]") {
  TinySet set;
  const auto truth = set.loaded();
  Method exact{"truth", [&](const MethodInput& in) { return truth.at(in.scene).disparity_left.clone(); }};
  EvalResult r = evaluate_depth(set.scenes, exact, {});
  REQUIRE(r.rows.size() == 3);
  CHECK(r.rows[0].scene == "scene0");
  CHECK(r.mean_of("bad2_pct") == 0.0);
  CHECK(r.mean_of("bad1_pct") == 0.0);
  CHECK(r.mean_of("mae_px") == 0.0);
  CHECK(r.mean_of("evaluated_pct") > 80.0);

  Method unknown{"nothing", [](const MethodInput& in) {
                   return cv::Mat(in.mono.size(), CV_32F, cv::Scalar(std::numeric_limits<float>::quiet_NaN()));
                 }};
  CHECK(evaluate_depth(set.scenes, unknown, {}).mean_of("bad2_pct") == 100.0);

  Method shifted{"off by 1.5", [&](const MethodInput& in) { return cv::Mat(truth.at(in.scene).disparity_left + 1.5f); }};
  EvalResult s = evaluate_depth(set.scenes, shifted, {});
  CHECK(s.mean_of("bad2_pct") == 0.0);
  CHECK(s.mean_of("bad1_pct") == 100.0);
  CHECK(s.mean_of("mae_px") == Approx(1.5));

  Method wrong_size{"wrong size", [](const MethodInput&) { return cv::Mat(3, 3, CV_32F, cv::Scalar(1)); }};
  CHECK_THROWS_AS(evaluate_depth(set.scenes, wrong_size, {}), Error);
}

TEST_CASE("DEPTH: the peer finds the disparity of a well-textured synthetic scene", "[eval]") {
  TinySet set;
  Method peer{"peer", [](const MethodInput& in) {
                return eval::peer_depth(in.mono, in.color, eval::PeerDepthOptions{}, 16);
              }};
  EvalResult r = evaluate_depth(set.scenes, peer, {});
  INFO(r.table());
  CHECK(r.mean_of("bad2_pct") < 15.0);
  CHECK(r.mean_of("mae_px") < 1.0);
}

TEST_CASE("P1 and P2 peers: colourised and denoised images beat trivial answers", "[eval]") {
  TinySet set;
  CHECK(eval::sample_num_disparities(413) == 64);
  CHECK(eval::sample_num_disparities(60) == 16);
  eval::PeerColorizeOptions c;
  c.depth.match.max_disparity = 16;
  Method colorize{"peer", [&](const MethodInput& in) { return eval::peer_colorize(in.mono, in.color, c); }};
  Method grey{"grey", [](const MethodInput& in) {
                cv::Mat g;
                cv::cvtColor(in.mono, g, cv::COLOR_GRAY2BGR);
                return g;
              }};
  const double peer_db = evaluate_p1(set.scenes, colorize, {}).mean_of("psnr_eval_db");
  CHECK(peer_db > evaluate_p1(set.scenes, grey, {}).mean_of("psnr_eval_db") + 3.0);
  CHECK(peer_db > 20.0);
  c.border = eval::PeerBorder::Constant;
  CHECK(evaluate_p1(set.scenes, colorize, {}).mean_of("psnr_eval_db") == Approx(peer_db).margin(0.5));
  CHECK_THROWS_AS(eval::parse_peer_border("wrap"), Error);

  Method denoise{"nlm", [](const MethodInput& in) { return eval::peer_denoise(in.color, {}); }};
  const EvalResult r = evaluate_p2(set.scenes, denoise, {});
  CHECK(std::isfinite(r.mean_of("psnr_db")));
  CHECK(r.mean_of("psnr_db") != r.mean_of("input_psnr_db"));
}

TEST_CASE("Evaluated pixels: truth known and its match inside the right image", "[eval]") {
  MiddleburyScene s;
  s.disparity_left = cv::Mat(2, 6, CV_32F, cv::Scalar(2.0f));
  s.disparity_left.at<float>(1, 4) = std::numeric_limits<float>::quiet_NaN();
  cv::Mat m = evaluated_mask(s);
  CHECK(m.at<std::uint8_t>(0, 1) == 0);    // 1 - 2 < 0: outside the right image
  CHECK(m.at<std::uint8_t>(0, 2) == 255);  // 2 - 2 = 0: inside
  CHECK(m.at<std::uint8_t>(1, 4) == 0);    // unknown truth
  s.nonocc_mask = cv::Mat(2, 6, CV_8U, cv::Scalar(255));
  s.nonocc_mask.at<std::uint8_t>(0, 3) = 0;
  CHECK(evaluated_mask(s).at<std::uint8_t>(0, 3) == 0);
  CHECK(cv::countNonZero(evaluated_mask(s)) == 6);
}

TEST_CASE("unseen_mask: pixels the right camera cannot see (occluded, outside, no truth)", "[eval]") {
  // One row: background at disparity 2, a nearer object (disparity 5) at x = 8..11. In the right
  // view the object lands at 3..6 and covers the background that would land there: background
  // pixels x = 5..7 (landing 3..5) are hidden; x = 0, 1 land outside; x = 13 has no truth.
  MiddleburyScene s;
  s.disparity_left = cv::Mat(1, 16, CV_32F, cv::Scalar(2.0f));
  for (int x = 8; x < 12; ++x) s.disparity_left.at<float>(0, x) = 5.0f;
  s.disparity_left.at<float>(0, 13) = std::numeric_limits<float>::quiet_NaN();
  const cv::Mat m = unseen_mask(s);
  std::string row;
  for (int x = 0; x < 16; ++x) row += m.at<std::uint8_t>(0, x) ? 'u' : '.';
  CHECK(row == "uu...uuu.....u..");
}

TEST_CASE("P1's chroma figures: grey scores the colour's chroma, the truth zero, apart for seen and unseen pixels",
          "[eval]") {
  TinySet set;
  const auto truth = set.loaded();
  Method left{"truth", [&](const MethodInput& in) { return truth.at(in.scene).left.clone(); }};
  const EvalResult exact = evaluate_p1(set.scenes, left, {});
  CHECK(exact.mean_of("chroma_seen") == 0.0);
  Method grey{"grey", [](const MethodInput& in) {
                cv::Mat g;
                cv::cvtColor(in.mono, g, cv::COLOR_GRAY2BGR);
                return g;
              }};
  const EvalResult bad = evaluate_p1(set.scenes, grey, {});
  CHECK(bad.mean_of("chroma_seen") > 5.0);
  CHECK(bad.mean_of("unseen_pct") > 0.0);
}

TEST_CASE("P1 and P2: exact images score +inf, the colour input's own PSNR is reported", "[eval]") {
  TinySet set;
  const auto truth = set.loaded();
  Method left{"truth", [&](const MethodInput& in) { return truth.at(in.scene).left.clone(); }};
  EvalResult p1 = evaluate_p1(set.scenes, left, {});
  CHECK(std::isinf(p1.mean_of("psnr_db")));
  CHECK(p1.mean_of("ssim") == Approx(1.0));

  Method grey{"grey", [](const MethodInput& in) {
                cv::Mat g;
                cv::cvtColor(in.mono, g, cv::COLOR_GRAY2BGR);
                return g;
              }};
  EvalResult bad = evaluate_p1(set.scenes, grey, {});
  CHECK(bad.mean_of("psnr_db") < 20.0);
  CHECK(bad.mean_of("psnr_eval_db") < 20.0);

  Method input{"input", [](const MethodInput& in) { return in.color.clone(); }};
  EvalResult p2 = evaluate_p2(set.scenes, input, {});
  CHECK(p2.light == 0.05);
  CHECK(p2.mean_of("psnr_db") == Approx(p2.mean_of("input_psnr_db")));
  CHECK(p2.mean_of("input_psnr_db") < 35.0);
  Method right{"truth", [&](const MethodInput& in) { return truth.at(in.scene).right.clone(); }};
  EvalResult exact = evaluate_p2(set.scenes, right, {});
  CHECK(std::isinf(exact.mean_of("psnr_db")));
  // More light, a cleaner colour input.
  EvalOptions good;
  good.light = 1.0;
  CHECK(evaluate_p2(set.scenes, input, good).mean_of("input_psnr_db") > p2.mean_of("input_psnr_db") + 0.5);

  const Json j = p2.to_json();
  CHECK(j["protocol"] == "p2");
  CHECK(j["scenes"].size() == 3);
  CHECK(j["scenes"][1]["scene"] == "scene1");
  CHECK(j["mean"].contains("input_psnr_db"));
  CHECK(j["options"]["light"] == 0.05);
  CHECK(exact.to_json()["mean"]["psnr_db"] == "inf");
  const std::string table = p2.table();
  CHECK(table.find("input PSNR dB") != std::string::npos);
  CHECK(table.find("mean") != std::string::npos);
}

TEST_CASE("Simulated pairs: deterministic per scene and protocol, options are honoured", "[eval]") {
  TinySet set;
  const MiddleburyScene s = load_scene(set.scenes[0]);
  const EvalOptions o;
  const MethodInput a = simulate_pair(s, Protocol::Depth, o), b = simulate_pair(s, Protocol::Depth, o);
  CHECK(cv::norm(a.mono, b.mono, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.color, b.color, cv::NORM_INF) == 0);
  CHECK(a.mono.type() == CV_8UC1);
  CHECK(a.color.type() == CV_8UC3);
  CHECK(scene_seed("Art", Protocol::Depth, 0) != scene_seed("Art", Protocol::P1, 0));
  CHECK(scene_seed("Art", Protocol::Depth, 0) != scene_seed("Books", Protocol::Depth, 0));
  CHECK(scene_seed("Art", Protocol::Depth, 0) != scene_seed("Art", Protocol::Depth, 1));

  EvalOptions w;
  w.mono.w_b = 0.2, w.mono.w_g = 0.4, w.mono.w_r = 0.4, w.mono.gain = 1.0;
  CHECK(cv::norm(simulate_pair(s, Protocol::Depth, w).mono, a.mono, cv::NORM_L1) > 0);

  EvalOptions same;
  same.left_sensor = LeftSensor::Color;
  const MethodInput c = simulate_pair(s, Protocol::Depth, same);
  REQUIRE(c.left_color.type() == CV_8UC3);
  cv::Mat g;
  cv::cvtColor(c.left_color, g, cv::COLOR_BGR2GRAY);
  CHECK(cv::norm(g, c.mono, cv::NORM_INF) == 0);
  CHECK_THROWS_AS(same.validate(Protocol::P1), Error);
}

TEST_CASE("Perturbed right view: shifted down and rotated counter-clockwise about the centre", "[eval]") {
  // A bright square 100 px right of the centre of a 301 x 201 image; its centroid is tracked.
  cv::Mat img(201, 301, CV_8UC1, cv::Scalar(0));
  cv::rectangle(img, cv::Rect(246, 96, 9, 9), cv::Scalar(255), cv::FILLED);  // centre (250, 100)
  auto centroid = [](const cv::Mat& m) {
    const cv::Moments mo = cv::moments(m);
    return cv::Point2d(mo.m10 / mo.m00, mo.m01 / mo.m00);
  };
  const cv::Point2d c0 = centroid(img);
  REQUIRE(c0.x == Approx(250.0).margin(1e-6));
  const cv::Point2d shifted = centroid(perturb_right_view(img, 3.0, 0.0));
  CHECK(shifted.x == Approx(250.0).margin(0.01));
  CHECK(shifted.y == Approx(103.0).margin(0.01));
  // 2 degrees counter-clockwise (y points down): (150 + 100 cos a, 100 - 100 sin a), then 3 px down.
  const double a = 2.0 * CV_PI / 180.0;
  const cv::Point2d both = centroid(perturb_right_view(img, 3.0, 2.0));
  CHECK(both.x == Approx(150.0 + 100.0 * std::cos(a)).margin(0.05));
  CHECK(both.y == Approx(100.0 - 100.0 * std::sin(a) + 3.0).margin(0.05));
  CHECK(cv::norm(perturb_right_view(img, 0.0, 0.0), img, cv::NORM_INF) == 0);

  // In the simulated pair only the colour (right) view moves; only the depth protocol takes it.
  TinySet set;
  const MiddleburyScene s = load_scene(set.scenes[0]);
  EvalOptions o, p;
  p.perturb_right_shift_px = 3;
  p.perturb_right_rotate_deg = 0.3;
  CHECK_NOTHROW(p.validate(Protocol::Depth));
  const MethodInput a0 = simulate_pair(s, Protocol::Depth, o), a1 = simulate_pair(s, Protocol::Depth, p);
  CHECK(cv::norm(a0.mono, a1.mono, cv::NORM_INF) == 0);
  CHECK(cv::norm(a0.color, a1.color, cv::NORM_L1) > 0);
  CHECK_THROWS_AS(p.validate(Protocol::P1), Error);
  EvalOptions far;
  far.perturb_right_rotate_deg = 45;
  CHECK_THROWS_AS(far.validate(Protocol::Depth), Error);
}

TEST_CASE("Protocol names: the ones that exist, and a clear error for others", "[eval][bad]") {
  CHECK(parse_protocol("DEPTH") == Protocol::Depth);
  CHECK(parse_protocol("p2") == Protocol::P2);
  try {
    parse_protocol("bokeh");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("depth, p1, p2") != std::string::npos);
  }
  EvalOptions o;
  o.light = -1;
  CHECK_THROWS_AS(o.validate(Protocol::Depth), Error);
}

TEST_CASE("Shared data: the peer's DEPTH on two Middlebury scenes is in a sane range", "[eval][shared]") {
  const std::string root = test::shared_data_dir();
  const std::string dir = root.empty() ? "" : root + "/middlebury2005_2006_thirdsize";
  if (dir.empty() || !fs::is_directory(dir)) {
    DUALCAM_SKIP("the shared Middlebury data is absent");
  }
  std::vector<SceneSource> scenes;
  for (const auto& s : find_scenes(dir))
    if (s.name == "Art" || s.name == "Cloth1") scenes.push_back(s);
  REQUIRE(scenes.size() == 2);
  Method peer{"peer", [](const MethodInput& in) { return eval::peer_depth(in.mono, in.color, {}, in.ndisp); }};
  EvalResult r = evaluate_depth(scenes, peer, {});
  INFO(r.table());
  CHECK(r.mean_of("bad2_pct") > 1.0);
  CHECK(r.mean_of("bad2_pct") < 50.0);
  CHECK(r.mean_of("evaluated_pct") > 70.0);
}

namespace {
int distinct_levels(const cv::Mat& gray8) {
  std::vector<bool> seen(256, false);
  for (int r = 0; r < gray8.rows; ++r)
    for (int c = 0; c < gray8.cols; ++c) seen[gray8.at<std::uint8_t>(r, c)] = true;
  return int(std::count(seen.begin(), seen.end(), true));
}
}  // namespace

TEST_CASE("Realistic sensor: the pair through camera_isp.hpp, deterministic, noisier, quantised", "[eval]") {
  TinySet set;
  const MiddleburyScene s = load_scene(set.scenes[0]);
  EvalOptions simple, real;
  real.sensor = SensorModel::Realistic;
  const MethodInput a = simulate_pair(s, Protocol::P2, real), b = simulate_pair(s, Protocol::P2, real);
  REQUIRE(a.mono.type() == CV_8UC1);
  REQUIRE(a.color.type() == CV_8UC3);
  CHECK(a.mono.size() == s.left.size());
  // Deterministic for a seed; --seed draws other noise.
  CHECK(cv::norm(a.mono, b.mono, cv::NORM_INF) == 0);
  CHECK(cv::norm(a.color, b.color, cv::NORM_INF) == 0);
  EvalOptions reseeded = real;
  reseeded.seed = 7;
  CHECK(cv::norm(simulate_pair(s, Protocol::P2, reseeded).color, a.color, cv::NORM_L1) > 0);

  // Another pair than the simple model's. The realistic mono takes the protocol's light (the
  // simple one does not depend on it), so at light 0.05 its photon + read noise is far above the
  // simple model's 0.004 at 18 % grey: against the noiseless mono (the expected value of both
  // models) it scores several dB lower.
  const MethodInput si = simulate_pair(s, Protocol::P2, simple);
  CHECK(cv::norm(si.color, a.color, cv::NORM_L1) > 0);
  CHECK(cv::norm(si.mono, a.mono, cv::NORM_L1) > 0);
  const cv::Mat clean_mono = to_srgb8(mono_response(to_linear(s.left), MonoSensor{}));
  const double mono_simple = psnr8(si.mono, clean_mono), mono_real = psnr8(a.mono, clean_mono);
  INFO("mono PSNR against the noiseless mono: simple " << mono_simple << " dB, realistic " << mono_real << " dB");
  CHECK(mono_real < mono_simple - 3.0);
  CHECK(mono_real > 15.0);  // still a picture of the scene
  CHECK(psnr8(a.color, s.right) > 15.0);

  // The mono is the camera_isp.hpp picture: its ADC's levels show. At light 0.02 an 8-bit ADC
  // spans white with ~19 DN, so the picture (no JPEG, which would smear the levels) has few grey
  // levels; a 12-bit ADC has 16x more.
  EvalOptions dark8 = real;
  dark8.light = 0.02;
  dark8.jpeg_quality = 0;
  EvalOptions dark12 = dark8;
  dark12.adc_bits = 12;
  const int levels8 = distinct_levels(simulate_pair(s, Protocol::P2, dark8).mono);
  const int levels12 = distinct_levels(simulate_pair(s, Protocol::P2, dark12).mono);
  INFO("mono grey levels: 8-bit ADC " << levels8 << ", 12-bit ADC " << levels12);
  CHECK(levels8 <= 40);
  CHECK(levels12 > 2 * levels8);

  // Both views through the realistic colour camera; the mono input is its grey.
  EvalOptions both = real;
  both.left_sensor = LeftSensor::Color;
  const MethodInput c = simulate_pair(s, Protocol::Depth, both);
  REQUIRE(c.left_color.type() == CV_8UC3);
  cv::Mat g;
  cv::cvtColor(c.left_color, g, cv::COLOR_BGR2GRAY);
  CHECK(cv::norm(g, c.mono, cv::NORM_INF) == 0);
}

TEST_CASE("Realistic sensor: the protocols score against the clean images and record the model", "[eval]") {
  TinySet set;
  EvalOptions o;
  o.sensor = SensorModel::Realistic;
  Method input{"colour input", [](const MethodInput& in) { return in.color.clone(); }};
  const EvalResult r = evaluate_p2(set.scenes, input, o);
  CHECK(r.mean_of("psnr_db") == Approx(r.mean_of("input_psnr_db")));
  CHECK(std::isfinite(r.mean_of("psnr_db")));
  const Json j = r.to_json();
  CHECK(j["options"]["sensor"] == "realistic");
  CHECK(j["options"]["adc_bits"] == 8);
  CHECK(j["options"]["realistic_color_camera"]["light"] == 0.05);
  CHECK(j["options"]["realistic_mono_camera"]["output_gain"] == MonoSensor{}.gain);
  CHECK(evaluate_p2(set.scenes, input, {}).to_json()["options"]["sensor"] == "simple");
}

TEST_CASE("Realistic sensor: bad option values throw", "[eval][bad]") {
  EvalOptions o;
  o.sensor = SensorModel::Realistic;
  CHECK_NOTHROW(o.validate(Protocol::Depth));
  CHECK_NOTHROW(o.validate(Protocol::P2));
  for (int bits : {7, 17, 0}) {
    EvalOptions b = o;
    b.adc_bits = bits;
    CHECK_THROWS_AS(b.validate(Protocol::P1), Error);
  }
  EvalOptions q = o;
  q.jpeg_quality = 101;
  CHECK_THROWS_AS(q.validate(Protocol::P1), Error);
  // Light above a good-light exposure: the simple model takes it, the realistic camera cannot.
  EvalOptions bright = o;
  bright.light = 2;
  try {
    bright.validate(Protocol::Depth);
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(std::string(e.what()).find("realistic") != std::string::npos);
  }
  bright.sensor = SensorModel::Simple;
  CHECK_NOTHROW(bright.validate(Protocol::Depth));
  EvalOptions nonsense = o;
  nonsense.sensor = static_cast<SensorModel>(7);
  CHECK_THROWS_AS(nonsense.validate(Protocol::Depth), Error);
  CHECK(parse_sensor_model("realistic") == SensorModel::Realistic);
  CHECK_THROWS_AS(parse_sensor_model("fancy"), Error);
}
