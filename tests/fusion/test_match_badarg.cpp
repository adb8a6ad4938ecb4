#include <catch2/catch.hpp>

#include <opencv2/core.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/fusion/match.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/refine.hpp"
#include "dualcam/fusion/self_rectify.hpp"

using namespace dualcam;

TEST_CASE("Matcher options reject nonsense, naming the field", "[match][bad]") {
  auto rejects = [](auto change, const char* field) {
    fusion::MatchOptions o;
    change(o);
    CHECK_THROWS_WITH(o.validate(), Catch::Contains(field));
  };
  rejects([](fusion::MatchOptions& o) { o.census.census_width = 8; }, "census_width");
  rejects([](fusion::MatchOptions& o) { o.census.census_width = 11; o.census.census_height = 7; }, "65");
  rejects([](fusion::MatchOptions& o) { o.census.paths = 6; }, "paths");
  rejects([](fusion::MatchOptions& o) { o.census.p1 = 50; o.census.p2 = 10; }, "p2");
  rejects([](fusion::MatchOptions& o) { o.census.box_radius = 3; o.census.p2 = 200; }, "overflows");
  rejects([](fusion::MatchOptions& o) { o.census.uniqueness = 120; }, "uniqueness");
  rejects([](fusion::MatchOptions& o) { o.census.clip_min_share = 1.5; }, "clip_min_share");
  rejects([](fusion::MatchOptions& o) { o.census.clip_ring = 0; }, "clip_ring");
  rejects([](fusion::MatchOptions& o) { o.max_working_pixels = 10; }, "max_working_pixels");
  rejects([](fusion::MatchOptions& o) { o.max_working_disparity = 4; }, "max_working_disparity");
  fusion::MatchOptions ok;
  CHECK_NOTHROW(ok.validate());
}

TEST_CASE("Matcher names parse, and bad ones are refused", "[match][bad]") {
  CHECK(fusion::parse_matcher("census") == fusion::MatcherKind::CensusSgm);
  CHECK(fusion::parse_matcher("sgbm") == fusion::MatcherKind::Sgbm);
  CHECK_THROWS_WITH(fusion::parse_matcher("bm"), Catch::Contains("parse_matcher") && Catch::Contains("'bm'"));
  CHECK(std::string(fusion::to_string(fusion::MatcherKind::CensusSgm)) == "census");
}

TEST_CASE("The census/SGM matcher refuses images it cannot match", "[match][bad]") {
  auto m = fusion::StereoMatcher::create({});
  const cv::Mat a(40, 60, CV_8UC1, cv::Scalar(10)), b(40, 61, CV_8UC1, cv::Scalar(10)), c(40, 60, CV_8UC3);
  CHECK_THROWS_AS(m->match_left_full(a, b, 16), Error);
  CHECK_THROWS_AS(m->match_left_full(a, c, 16), Error);
  CHECK_THROWS_AS(m->match_left_full(a, a, 0), Error);
}

TEST_CASE("The SGBM matcher refuses images no wider than its range instead of crashing in OpenCV",
          "[match][bad]") {
  fusion::MatchOptions o;
  o.kind = fusion::MatcherKind::Sgbm;
  auto m = fusion::StereoMatcher::create(o);
  // 1x1 ended the process (OpenCV throws from a destructor); 32 px at range 32 was a cv::Exception.
  for (const cv::Size size : {cv::Size(0, 0), cv::Size(1, 1), cv::Size(32, 10)}) {
    const cv::Mat a(size, CV_8UC1, cv::Scalar(10));
    INFO(size.width << "x" << size.height);
    CHECK_THROWS_WITH(m->match_left_full(a, a, 32), Catch::Contains("wider than the disparity range"));
  }
  // Range 40 is searched as 48: 49 px is the narrowest it matches.
  cv::Mat a(10, 48, CV_8UC1), b;
  cv::randu(a, 0, 255);
  CHECK_THROWS_AS(m->match_left_full(a, a, 40), Error);
  cv::copyMakeBorder(a, b, 0, 0, 0, 1, cv::BORDER_REFLECT);
  CHECK(m->match_left_full(b, b, 40).disparity.size() == b.size());
}

TEST_CASE("Refinement and self-rectification options reject nonsense", "[match][bad]") {
  fusion::FuseOptions o;
  o.refine.median_radius = -1;
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("median_radius"));
  o = {};
  o.refine.upsample.sigma_range = 0;
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("sigma_range"));
  o = {};
  o.self_rectify.ratio = 2;
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("ratio"));
  o = {};
  o.rectified = true;
  o.auto_rig = true;
  CHECK_THROWS_WITH(o.validate(), Catch::Contains("auto_rig"));
}

TEST_CASE("Self-rectification of a featureless pair fails with a clear error", "[match][bad][selfrect]") {
  const cv::Mat flat(120, 160, CV_8UC1, cv::Scalar(128)), flat3(120, 160, CV_8UC3, cv::Scalar(90, 128, 140));
  fusion::FuseOptions o;
  o.auto_rig = true;
  try {
    fusion::compute_depth({flat, flat3, nullptr}, o);
    FAIL("expected an error");
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::Numerical);
    CHECK_THAT(e.what(), Catch::Contains("give a rig"));
  }
}
