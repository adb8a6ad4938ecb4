#include <catch2/catch.hpp>

#include <limits>

#include <opencv2/calib3d.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/rectify_geometry.hpp"
#include "dualcam/engine/rig.hpp"
#include "support.hpp"

using namespace dualcam;

namespace {
StereoRig example_rig() {
  StereoRig rig;
  rig.mono.K = cv::Matx33d(500, 0, 319.5, 0, 502, 241, 0, 0, 1);
  rig.mono.dist = (cv::Mat_<double>(1, 5) << -0.1, 0.05, 0.001, -0.002, 0.01);
  rig.mono.size = {640, 480};
  rig.color.K = cv::Matx33d(700, 0, 400, 0, 700, 300, 0, 0, 1);
  rig.color.dist = (cv::Mat_<double>(1, 5) << -0.05, 0.01, 0, 0, 0);
  rig.color.size = {800, 600};
  cv::Mat R;
  cv::Rodrigues(cv::Vec3d(0.01, -0.02, 0.005), R);
  rig.R = cv::Matx33d(R);
  rig.T = cv::Vec3d(-12.5, 0.3, -0.1);
  rig.extras["rms_px"] = 0.25;
  return rig;
}
}  // namespace

TEST_CASE("Rig YAML round-trips exactly and is readable by plain cv::FileStorage", "[rig]") {
  test::TempDir tmp;
  StereoRig rig = example_rig();
  write_rig(tmp / "rig.yaml", rig);
  StereoRig back = read_rig(tmp / "rig.yaml");
  CHECK(cv::norm(cv::Mat(back.mono.K), cv::Mat(rig.mono.K)) == 0);
  CHECK(cv::norm(cv::Mat(back.color.K), cv::Mat(rig.color.K)) == 0);
  CHECK(cv::norm(back.mono.dist, rig.mono.dist) == 0);
  CHECK(cv::norm(cv::Mat(back.R), cv::Mat(rig.R)) < 1e-15);
  CHECK(cv::norm(back.T - rig.T) < 1e-15);
  CHECK(back.color.size == rig.color.size);
  CHECK(back.extras.at("rms_px") == 0.25);

  cv::FileStorage fs(tmp / "rig.yaml", cv::FileStorage::READ);
  REQUIRE(fs.isOpened());
  cv::Mat M1, D2, R, T, E, F;
  fs["M1"] >> M1;
  fs["D2"] >> D2;
  fs["R"] >> R;
  fs["T"] >> T;
  fs["E"] >> E;
  fs["F"] >> F;
  CHECK(M1.at<double>(0, 0) == 500);
  CHECK(D2.total() == 5);
  CHECK(cv::norm(R, cv::Mat(rig.R)) < 1e-15);
  CHECK(T.at<double>(0) == -12.5);
  // F is consistent with the geometry: x2^T F x1 = 0 for a projected point.
  cv::Vec3d X(30, -20, 400);
  cv::Vec3d x1 = rig.mono.K * X;
  cv::Vec3d x2 = rig.color.K * (rig.R * X + rig.T);
  x1 /= x1[2];
  x2 /= x2[2];
  CHECK(std::abs(x2.dot(cv::Matx33d(F) * x1)) < 1e-9);
}

TEST_CASE("Bad rig files are refused naming the problem", "[rig][bad]") {
  test::TempDir tmp;
  std::string good = format_rig(example_rig());
  auto expect = [&](const std::string& text, const std::string& fragment) {
    write_file_atomic(tmp / "bad.yaml", text);
    CHECK_THROWS_WITH(read_rig(tmp / "bad.yaml"), Catch::Contains(fragment));
  };
  std::string missing = good;
  missing.replace(missing.find("M2:"), 3, "X2:");
  expect(missing, "missing key 'M2'");
  StereoRig nan = example_rig();
  nan.T[0] = std::numeric_limits<double>::quiet_NaN();
  expect(format_rig(nan), "NaN");
  expect("not: [yaml", "rig");
  expect("", "empty");
  StereoRig neg = example_rig();
  neg.mono.K(0, 0) = -500;
  expect(format_rig(neg), "focal length must be positive");
  StereoRig rot = example_rig();
  rot.R(0, 0) = 2;
  expect(format_rig(rot), "not a rotation");
  CHECK_THROWS_AS(read_rig(tmp / "none.yaml"), Error);
}

TEST_CASE("Rectification geometry puts the mono camera on the left for any baseline direction", "[rig][rectify]") {
  StereoRig rig = example_rig();
  rig.color = rig.mono;
  for (cv::Vec3d T : {cv::Vec3d(-10, 0, 0), cv::Vec3d(10, 0, 0), cv::Vec3d(0, -10, 0), cv::Vec3d(0, 10, 0)}) {
    rig.T = T;
    RectifyGeometry g = rectify_geometry(rig);
    CHECK(g.baseline == Approx(10).epsilon(1e-6));
    CHECK(g.vertical == (T[1] != 0));
    CHECK(g.flip == (T[0] > 0 || T[1] > 0));
  }
}

TEST_CASE("Fuzzer finding: YAML whose top level is not a mapping is refused as a rig", "[rig][bad][fuzz]") {
  for (const char* text : {"%YAML:1.0\n---\n- 1\n- 2\n", "%YAML:1.0\n---\nM1: [1, 2]\n", "%YAML:1.0\n---\nM1: 3\n"}) {
    CHECK_THROWS_AS(parse_rig(text, "fuzz"), Error);
  }
}

TEST_CASE("Fuzzer finding: a matrix header claiming huge dimensions is refused before allocation", "[rig][bad][fuzz]") {
  std::string text = format_rig(example_rig());
  const std::string from = "rows: 1\n   cols: 5";
  REQUIRE(text.find(from) != std::string::npos);
  text.replace(text.find(from), from.size(), "rows: 1\n   cols: 2000000000");
  CHECK_THROWS_WITH(parse_rig(text, "fuzz"), Catch::Contains("at most 16x16"));
}

TEST_CASE("A rig whose layout is not 'key: value' outside [ ] lists is refused, naming the line", "[rig][bad][fuzz]") {
  // The smallest form of a fuzzer input that hung OpenCV 4.6's YAML parser.
  CHECK_THROWS_WITH(parse_rig("%YAML:1.0\n   data: [ 1 ]\nD7e-04, 0. ]\nM2: x\n", "fuzz"),
                    Catch::Contains("line 3") && Catch::Contains("closes nothing"));
  CHECK_THROWS_WITH(parse_rig("%YAML:1.0\n   data: [ 1 ]\nD7e-04, 0.\nM2: x\n", "fuzz"),
                    Catch::Contains("line 3") && Catch::Contains("key: value"));
  CHECK_THROWS_WITH(parse_rig("%YAML:1.0\nM1: [ 1, 2\n", "fuzz"), Catch::Contains("not closed"));
  CHECK_THROWS_WITH(parse_rig("%YAML:1.0\nM1: 1 ]\n", "fuzz"), Catch::Contains("closes nothing"));
  CHECK_THROWS_WITH(parse_rig("%YAML:1.0\n---\nM1: 1\n---\nM2: 2\n", "fuzz"), Catch::Contains("one '---'"));
  CHECK_THROWS_WITH(parse_rig("%YAML:1.0\n---rig: 1\n", "fuzz"), Catch::Contains("'---' line"));
  // A key OpenCV reads but cannot write back (format_rig threw from inside OpenCV).
  CHECK_THROWS_WITH(parse_rig("%YAML:1.0\n= dualcam ster%YAML:1.0\n", "fuzz"), Catch::Contains("not a name"));
  // What OpenCV writes (comments, multi-line lists, strings with ':' and '#') still reads.
  std::string text = format_rig(example_rig());
  text.insert(text.find("M1:"), "# a comment: with [ brackets\nnote: \"a: b # c [\"\n");
  CHECK_NOTHROW(parse_rig(text, "ok"));
}

TEST_CASE("Fuzzer findings: every rig input that crashed the fuzzer is now a clean Error", "[rig][bad][fuzz]") {
  // The crash inputs are kept in the seed corpus.
  for (const char* name :
       {"crash-root-not-map.yaml", "crash-huge-matrix.yaml", "crash-parser-throws.yaml", "hang-empty-key.yaml",
        "hang-line-without-key.yaml", "hang-several-documents.yaml",
        "crash-key-not-a-name.yaml"}) {
    const std::string path = std::string(DUALCAM_SOURCE_DIR) + "/fuzz/corpus/rig/" + name;
    INFO(path);
    CHECK_THROWS_AS(read_rig(path), Error);
  }
}
