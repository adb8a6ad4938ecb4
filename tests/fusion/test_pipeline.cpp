#include <catch2/catch.hpp>

#include <limits>

#include <opencv2/calib3d.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/sample.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/rectify.hpp"
#include "dualcam/fusion/warp.hpp"

using namespace dualcam;

namespace {
const datasets::Sample& sample() {
  static const datasets::Sample s = datasets::make_sample();
  return s;
}
}  // namespace

TEST_CASE("Fuse on the embedded sample beats the colour input against the truth (reference colour)", "[fuse]") {
  const auto& s = sample();
  fusion::FuseOptions o;
  fusion::FuseResult r = fusion::fuse({s.mono, s.color, &s.rig}, o);
  REQUIRE(r.image.size() == s.color.size());
  const cv::Mat fused8 = to_srgb8(r.image);
  const double psnr_fused = psnr8(fused8, s.truth_color_at_color);
  const double psnr_input = psnr8(s.color, s.truth_color_at_color);
  INFO("fused " << psnr_fused << " dB, colour input " << psnr_input << " dB");
  CHECK(psnr_fused > psnr_input + 0.5);
  // A swapped channel pair would be caught by the same threshold.
  cv::Mat swapped;
  cv::cvtColor(fused8, swapped, cv::COLOR_BGR2RGB);
  CHECK(psnr8(swapped, s.truth_color_at_color) < psnr_input);
  // The disparity of the reference view is mostly right (bad-2.0 against the truth).
  DisparityErrors e = disparity_errors(r.disparity, s.disparity_color);
  INFO("bad-2.0 " << e.bad2);
  CHECK(e.bad2 < 0.15);  // census/SGM: 0.049 measured
}

TEST_CASE("The production warp 3 px off the true disparity loses the gain of fusion", "[fuse][warp]") {
  // What a sign or off-by-N bug in the warp produces: the mono lands beside where it belongs.
  // Through the pipeline's own warp stage (rig maps composed, one fetch), with the simulator's true
  // disparity taken into the canonical frame, once exact and once 3 px off.
  const auto& s = sample();
  const fusion::Rectifier rect(s.rig);
  cv::Mat truth = rect.rectify_color(s.disparity_color, cv::INTER_NEAREST) / rect.color_disparity_scale();
  const fusion::MergeOptions mo;
  auto fused_psnr = [&](float offset) {
    cv::Mat valid;
    const cv::Mat warped = fusion::warp_to_reference(s.mono, &rect, truth + offset, fusion::Reference::Color, &valid);
    const fusion::MergeResult m = fusion::merge_reference_color(to_linear(s.color), warped, valid, mo);
    return psnr8(to_srgb8(m.image), s.truth_color_at_color);
  };
  const double exact = fused_psnr(0.0f), off = fused_psnr(3.0f);
  const double input = psnr8(s.color, s.truth_color_at_color);
  INFO("true disparity " << exact << " dB, 3 px off " << off << " dB, colour input " << input << " dB");
  CHECK(exact > input + 0.5);  // the warp is right: fusion gains
  CHECK(exact > off + 1.0);    // and 3 px off loses it
}

TEST_CASE("A mono 3 px off the rig's rows loses the gain of fusion unless the drift check corrects it", "[fuse]") {
  const auto& s = sample();
  // The module moved after calibration: the mono image sits 3 px lower than the rig says.
  cv::Mat moved;
  const cv::Matx23d down(1, 0, 0, 0, 1, 3);
  cv::warpAffine(s.mono, moved, down, s.mono.size(), cv::INTER_LINEAR, cv::BORDER_REPLICATE);
  fusion::FuseOptions o;
  const double aligned = psnr8(to_srgb8(fusion::fuse({s.mono, s.color, &s.rig}, o).image), s.truth_color_at_color);
  o.correct_drift = false;
  const fusion::FuseResult uncorrected = fusion::fuse({moved, s.color, &s.rig}, o);
  o.correct_drift = true;
  const fusion::FuseResult corrected = fusion::fuse({moved, s.color, &s.rig}, o);
  const double bad = psnr8(to_srgb8(uncorrected.image), s.truth_color_at_color);
  const double fixed = psnr8(to_srgb8(corrected.image), s.truth_color_at_color);
  INFO("aligned " << aligned << " dB, 3 px off " << bad << " dB, drift-corrected " << fixed << " dB");
  REQUIRE(corrected.stats.alignment.drift);
  CHECK(corrected.stats.alignment.drift->corrected);
  CHECK(corrected.stats.alignment.drift->before.median_abs_px > 2.0);
  // What is left is mostly the matches' own row error (ORB's keypoints lie on the pixel grid):
  // 0.51 px with the drift check's banded, mutual matching, whose correction fuses this pair to
  // 30.841 dB against 30.837 dB with the brute-force matches (residual below 0.5 px then); the
  // fused image below is the check that counts.
  CHECK(corrected.stats.alignment.drift->after.median_abs_px < 0.6);
  CHECK(aligned > bad + 1.0);
  CHECK(fixed > bad + 1.0);
}

TEST_CASE("The returned disparity is in the reference image's own pixels (rig with two focal lengths, rotated)",
          "[fuse][disparity]") {
  // engine/disparity.hpp: d = f_view * B / z_rect. The two cameras' focal lengths differ (and
  // from the rectified frame's), the colour camera is rotated and distorted: a disparity in
  // canonical pixels would be off by f_view / f_rect (here 7-17 %) at one view or the other.
  datasets::SimulateOptions so;
  so.mono.size = {480, 360};
  so.color.size = {400, 300};
  so.mono.focal_px = 420;
  so.color.focal_px = 350;
  so.rotation_deg = {0.4, -0.3, 0.8};
  so.color.distortion = {-0.04, 0.01};
  so.supersample = 1;
  so.color_sensor.light = 1.0;
  const datasets::Simulation sim = datasets::simulate(so);
  // The truth itself, from the rendered depth: at a few mono pixels f_mono * B / z_rect.
  const RectifyGeometry g = rectify_geometry(sim.rig);
  REQUIRE(std::abs(g.focal_px / sim.rig.color.K(0, 0) - 1.0) > 0.1);
  for (const cv::Point p : {cv::Point(40, 30), cv::Point(240, 180), cv::Point(440, 330)}) {
    // The mono pixel's ray through the lens model, scaled to its depth, in the rectified frame.
    std::vector<cv::Point2d> px{cv::Point2d(p)}, n;
    cv::undistortPoints(px, n, cv::Mat(sim.rig.mono.K), sim.rig.mono.dist);
    const double z = sim.depth_mono.at<float>(p);
    const cv::Vec3d X = g.R1 * cv::Vec3d(n[0].x * z, n[0].y * z, z);
    CHECK(sim.disparity_mono.at<float>(p) == Approx(sim.rig.mono.K(0, 0) * g.baseline / X[2]).epsilon(1e-4));
  }
  for (const auto reference : {fusion::Reference::Color, fusion::Reference::Mono}) {
    fusion::FuseOptions o;
    o.reference = reference;
    const fusion::DepthResult d = fusion::compute_depth({sim.mono, sim.color, &sim.rig}, o);
    const cv::Mat& truth = reference == fusion::Reference::Color ? sim.disparity_color : sim.disparity_mono;
    const DisparityErrors e = disparity_errors(d.disparity, truth);
    INFO(fusion::to_string(reference) << ": bad-2.0 " << e.bad2 << ", MAE " << e.mae_px << " px");
    CHECK(e.bad2 < 0.2);
    // Read in canonical pixels, the same map would be off by the focal ratio where the view's
    // focal length is not the rectified frame's (the colour camera's here).
    const double f_view = (reference == fusion::Reference::Color ? sim.rig.color : sim.rig.mono).K(0, 0);
    if (std::abs(g.focal_px / f_view - 1.0) > 0.1) {
      const DisparityErrors wrong = disparity_errors(d.disparity * (g.focal_px / f_view), truth);
      INFO("read in canonical px: bad-2.0 " << wrong.bad2 << ", MAE " << wrong.mae_px << " px");
      CHECK(e.mae_px < 0.7 * wrong.mae_px);
    }
  }
}

TEST_CASE("Reference mono: output at the mono view, close to the truth there", "[fuse]") {
  const auto& s = sample();
  fusion::FuseOptions o;
  o.reference = fusion::Reference::Mono;
  fusion::FuseResult r = fusion::fuse({s.mono, s.color, &s.rig}, o);
  REQUIRE(r.image.size() == s.mono.size());
  const double psnr = psnr8(to_srgb8(r.image), s.truth_color_at_mono);
  // The colour image taken as is at the wrong view: what no alignment at all gives.
  const double unaligned = psnr8(s.color, s.truth_color_at_mono);
  INFO("reference mono " << psnr << " dB, unaligned colour " << unaligned << " dB");
  CHECK(psnr > unaligned + 3.0);
}

TEST_CASE("Fuse is deterministic across thread counts", "[fuse][threads]") {
  const auto& s = sample();
  for (const auto reference : {fusion::Reference::Color, fusion::Reference::Mono}) {
    fusion::FuseOptions o;
    o.reference = reference;
    cv::Mat a, b;
    {
      ThreadScope t(1);
      a = t.run([&] { return fusion::fuse({s.mono, s.color, &s.rig}, o).image; });
    }
    {
      ThreadScope t(2);
      b = t.run([&] { return fusion::fuse({s.mono, s.color, &s.rig}, o).image; });
    }
    INFO("reference " << fusion::to_string(reference));
    CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
  }
}

TEST_CASE("Fuse validates its inputs", "[fuse][bad]") {
  const auto& s = sample();
  fusion::FuseOptions o;
  CHECK_THROWS_WITH(fusion::fuse({s.mono, s.color, nullptr}, o), Catch::Contains("rig"));
  cv::Mat small;
  cv::resize(s.color, small, {100, 80});
  CHECK_THROWS_WITH(fusion::fuse({s.mono, small, &s.rig}, o), Catch::Contains("100x80"));
  CHECK_THROWS_WITH(fusion::fuse({s.color, s.color, &s.rig}, o), Catch::Contains("channels"));
  o.rectified = true;
  CHECK_THROWS_WITH(fusion::fuse({s.mono, small, nullptr}, o), Catch::Contains("same size"));
  o.match.max_disparity = -3;
  CHECK_THROWS_AS(fusion::fuse({s.mono, s.color, nullptr}, o), Error);
}

TEST_CASE("warp_encoded_by_disparity equals warp_by_disparity of the decoded image, bit for bit", "[fuse][warp]") {
  cv::RNG rng(5);
  cv::Mat d(37, 53, CV_32F);
  rng.fill(d, cv::RNG::UNIFORM, -3.0, 12.0);
  d.at<float>(4, 7) = std::numeric_limits<float>::quiet_NaN();
  for (const int type : {CV_8UC1, CV_8UC3, CV_16UC1, CV_16UC3}) {
    cv::Mat src(d.size(), type);
    rng.fill(src, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_8U ? 256 : 65536);
    for (const int sign : {-1, +1}) {
      cv::Mat valid_a, valid_b;
      const cv::Mat a = fusion::warp_by_disparity(to_linear(src), d, sign, &valid_a);
      const cv::Mat b = fusion::warp_encoded_by_disparity(src, d, sign, &valid_b);
      INFO("type " << type << " sign " << sign);
      REQUIRE(a.type() == b.type());
      CHECK(cv::norm(a, b, cv::NORM_INF) == 0);
      CHECK(cv::norm(valid_a, valid_b, cv::NORM_INF) == 0);
      CHECK(cv::countNonZero(valid_b) > 0);
      CHECK(std::size_t(cv::countNonZero(valid_b)) < valid_b.total());
    }
  }
  CHECK_THROWS_AS(fusion::warp_encoded_by_disparity(to_linear(cv::Mat(d.size(), CV_8U, cv::Scalar(3))), d, 1, nullptr),
                  Error);
}

TEST_CASE("Fuse of a rectified pair is deterministic across thread counts, both references", "[fuse][threads]") {
  // A rectified pair (no rig) takes the row-wise warp; 160x120 divides by 4, 158x118 does not
  // (the merge reduces by blocks or by area).
  const auto& s = sample();
  fusion::FuseOptions o;
  o.rectified = true;
  o.match.max_disparity = 32;
  for (const cv::Size size : {cv::Size(160, 120), cv::Size(158, 118)}) {
    cv::Mat mono, color;
    cv::resize(s.mono, mono, size, 0, 0, cv::INTER_AREA);
    cv::resize(s.color, color, size, 0, 0, cv::INTER_AREA);
    for (const auto reference : {fusion::Reference::Color, fusion::Reference::Mono}) {
      o.reference = reference;
      fusion::FuseResult a, b;
      {
        ThreadScope t(1);
        a = t.run([&] { return fusion::fuse({mono, color, nullptr}, o); });
      }
      {
        ThreadScope t(3);
        b = t.run([&] { return fusion::fuse({mono, color, nullptr}, o); });
      }
      INFO("reference " << fusion::to_string(reference) << ", " << size.width << "x" << size.height);
      REQUIRE(a.image.size() == size);
      CHECK(cv::norm(a.image, b.image, cv::NORM_INF) == 0);
      CHECK(cv::norm(a.weight, b.weight, cv::NORM_INF) == 0);
      // The pair's rows agree only roughly (a rig's pair taken as rectified), but the output
      // stays an image: finite, non-negative.
      CHECK(cv::checkRange(a.image, true, nullptr, 0.0, 10.0));
    }
  }
}

TEST_CASE("Raw frames: the merge takes their linear signal and the noise fitted on them", "[fuse][raw]") {
  datasets::SimulateOptions so;
  so.mono.size = so.color.size = cv::Size(320, 240);
  so.sensor = datasets::SensorModel::Realistic;
  so.adc_bits = 10;
  so.color_sensor.light = 0.05;
  so.raw = true;
  const datasets::Simulation sim = datasets::simulate(so);
  const CameraPair raw = camera_pair(sim.mono_raw, sim.color_raw);
  const fusion::FuseInput in = fusion::fuse_input(raw, &sim.rig);
  REQUIRE(in.mono_linear.type() == CV_32FC1);
  REQUIRE(in.color_linear.type() == CV_32FC3);
  REQUIRE(in.mono_noise);
  REQUIRE(in.color_noise);
  // The linear signal keeps the noise below black that the encoding clips.
  double lo = 0;
  cv::minMaxLoc(in.color_linear.reshape(1), &lo);
  CHECK(lo < 0);
  const cv::Mat truth8 = to_srgb8(sim.clean_color_at_color);
  const fusion::FuseResult r = fusion::fuse(in, fusion::FuseOptions{});
  cv::Mat developed8;
  raw.color.convertTo(developed8, CV_8U, 1.0 / 257.0);
  const double fused_db = psnr8(to_srgb8(r.image), truth8), developed_db = psnr8(developed8, truth8);
  INFO("fused from raw " << fused_db << " dB, the colour frame developed " << developed_db << " dB");
  CHECK(fused_db > developed_db + 1.0);
  // The JSON reports the fitted models, not ones measured on the images.
  const Json stats = r.stats.to_json();
  CHECK(stats["noise"]["color"]["channels"] == 3);

  // An image pair gets neither; the decoded image given as the linear signal changes nothing.
  const CameraPair images = camera_pair(sim.mono, sim.color);
  fusion::FuseInput plain = fusion::fuse_input(images, &sim.rig);
  CHECK(plain.mono_linear.empty());
  CHECK(!plain.color_noise);
  const cv::Mat a = fusion::fuse(plain, fusion::FuseOptions{}).image;
  plain.color_linear = to_linear(images.color);
  plain.mono_linear = to_linear(images.mono);
  CHECK(cv::norm(fusion::fuse(plain, fusion::FuseOptions{}).image, a, cv::NORM_INF) == 0);

  // Wrong linear images or models are refused by name.
  fusion::FuseInput bad = in;
  bad.color_linear = cv::Mat(in.color.size(), CV_32FC1, cv::Scalar(0));
  CHECK_THROWS_WITH(fusion::fuse(bad, fusion::FuseOptions{}), Catch::Contains("colour's linear image"));
  bad = in;
  bad.mono_noise = *in.color_noise;
  CHECK_THROWS_WITH(fusion::fuse(bad, fusion::FuseOptions{}), Catch::Contains("noise models"));
}
