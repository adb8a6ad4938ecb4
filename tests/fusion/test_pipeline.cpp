#include <catch2/catch.hpp>

#include <limits>

#include <opencv2/imgproc.hpp>

#include "dualcam/datasets/sample.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/pipeline.hpp"
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

TEST_CASE("A misaligned mono (3 px off) loses the gain of fusion", "[fuse]") {
  // What a sign or off-by-N bug in the warp produces: the mono lands beside where it belongs.
  const auto& s = sample();
  fusion::FuseOptions o;
  fusion::FuseResult good = fusion::fuse({s.mono, s.color, &s.rig}, o);
  cv::Mat mono = to_linear(s.mono);
  cv::Mat disparity = good.disparity.clone();
  cv::patchNaNs(disparity, 0);
  // Warp in the canonical sense is not available at the camera grid; emulate the bug by
  // fetching the mono 3 px away from the pixel the good warp would use.
  cv::Mat mono_at_color = fusion::warp_by_disparity(mono, disparity + 3.0f, +1, nullptr);
  cv::Mat valid(s.color.size(), CV_8U, cv::Scalar(255));
  fusion::MergeResult bad = fusion::merge_reference_color(to_linear(s.color), mono_at_color, valid, o.merge);
  const double psnr_good = psnr8(to_srgb8(good.image), s.truth_color_at_color);
  const double psnr_bad = psnr8(to_srgb8(bad.image), s.truth_color_at_color);
  INFO("good " << psnr_good << " dB, misaligned " << psnr_bad << " dB");
  CHECK(psnr_good > psnr_bad + 1.0);
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
