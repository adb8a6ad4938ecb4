// Middlebury-format loaders: each layout's quirks, the index CSV, and bad data folders.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <limits>

#include "datasets/synthetic_middlebury.hpp"
#include "dualcam/datasets/middlebury.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::datasets;
namespace fs = std::filesystem;

namespace {

std::string mkdir(const test::TempDir& t, const std::string& name) {
  fs::create_directories(t.path() / name);
  return t / name;
}

cv::Mat color_image(int seed, cv::Size size = {12, 10}) {
  cv::Mat m(size, CV_8UC3);
  cv::RNG(seed).fill(m, cv::RNG::UNIFORM, 0, 256);
  return m;
}

void write_2005(const std::string& dir) {
  write_image(dir + "/view1.png", color_image(1));
  write_image(dir + "/view5.png", color_image(2));
  cv::Mat d(10, 12, CV_8U, cv::Scalar(30));  // 30 / 3 = 10 px
  d.at<std::uint8_t>(0, 11) = 0;             // unknown
  d.at<std::uint8_t>(1, 11) = 4;             // 4 / 3 px
  write_image(dir + "/disp1.png", d);
}

void write_2014(const std::string& dir, const std::string& calib) {
  write_image(dir + "/im0.png", color_image(3, {8, 6}));
  write_image(dir + "/im1.png", color_image(4, {8, 6}));
  cv::Mat d(6, 8, CV_32F, cv::Scalar(2.5f));
  d.at<float>(2, 3) = std::numeric_limits<float>::infinity();
  write_pfm(dir + "/disp0GT.pfm", d);
  cv::Mat mask(6, 8, CV_8U, cv::Scalar(255));
  mask.at<std::uint8_t>(4, 5) = 128;  // occluded
  write_image(dir + "/mask0nocc.png", mask);
  write_file_atomic(dir + "/calib.txt", calib);
}

const std::string kCalib =
    "cam0 = [ 100.5 0 4 ;0 100.5 3; 0 0 1 ]\n"
    "cam1=[100.5 0 5.5 ;  0 100.5 3 ; 0 0 1]\n"
    "doffs = 1.5\nbaseline= 193.001\nwidth =8\nheight=6\nndisp = 280\nisint=0\nvmin=3\nvmax = 250\n";

template <typename F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

}  // namespace

TEST_CASE("2005/2006 scene: disparity divisor and 0 = unknown", "[datasets][middlebury]") {
  test::TempDir t;
  const std::string dir = mkdir(t, "Art");
  write_2005(dir);
  const auto scenes = find_scenes(dir);
  REQUIRE(scenes.size() == 1);
  CHECK(scenes[0].name == "Art");
  CHECK(scenes[0].layout == MiddleburyLayout::Y2005_2006);
  const MiddleburyScene s = load_scene(scenes[0]);
  REQUIRE(s.left.type() == CV_8UC3);
  CHECK(s.left.size() == cv::Size(12, 10));
  CHECK(s.disparity_left.at<float>(5, 5) == Approx(10.0f));
  CHECK(s.disparity_left.at<float>(1, 11) == Approx(4.0f / 3.0f));
  CHECK(std::isnan(s.disparity_left.at<float>(0, 11)));
  CHECK(s.nonocc_mask.empty());
  CHECK(s.ndisp == 0);
  // Another divisor (e.g. a full-size release) is an option.
  FindScenesOptions o;
  o.divisor_2005_2006 = 1;
  CHECK(load_scene(find_scenes(dir, o)[0]).disparity_left.at<float>(5, 5) == Approx(30.0f));
}

TEST_CASE("2014 scene: PFM inf = unknown, non-occlusion mask, calib.txt with spaces", "[datasets][middlebury]") {
  test::TempDir t;
  const std::string dir = mkdir(t, "Adirondack");
  write_2014(dir, kCalib);
  const auto scenes = find_scenes(dir);
  REQUIRE(scenes.size() == 1);
  CHECK(scenes[0].layout == MiddleburyLayout::Y2014);
  const MiddleburyScene s = load_scene(scenes[0]);
  CHECK(s.disparity_left.at<float>(0, 0) == Approx(2.5f));
  CHECK(std::isnan(s.disparity_left.at<float>(2, 3)));
  REQUIRE_FALSE(s.nonocc_mask.empty());
  CHECK(s.nonocc_mask.at<std::uint8_t>(0, 0) == 255);
  CHECK(s.nonocc_mask.at<std::uint8_t>(4, 5) == 0);
  CHECK(s.ndisp == 280);

  const MiddleburyCalib c = parse_middlebury_calib(kCalib, "calib.txt");
  CHECK(c.cam0(0, 0) == Approx(100.5));
  CHECK(c.cam0(1, 2) == Approx(3));
  CHECK(c.cam1(0, 2) == Approx(5.5));
  CHECK(c.doffs == Approx(1.5));
  CHECK(c.baseline == Approx(193.001));
  CHECK(c.width == 8);
  CHECK(c.height == 6);
}

TEST_CASE("Malformed calib.txt is refused with the file and line", "[datasets][middlebury][bad]") {
  CHECK(error_of([] { parse_middlebury_calib("cam0=[1 0 0; 0 1 0]\ncam1=[1 0 0;0 1 0;0 0 1]\n", "c.txt"); })
            .find("c.txt line 1: cam0 must be a 3x3 matrix") != std::string::npos);
  CHECK(error_of([] { parse_middlebury_calib("cam0=[1 0 0;0 1 0;0 0 1]\ncam1=[1 0 0;0 1 0;0 0 x]\n", "c.txt"); })
            .find("line 2") != std::string::npos);
  CHECK(error_of([] { parse_middlebury_calib("cam0=[1 0 0;0 1 0;0 0 1]\ncam1=[1 0 0;0 1 0;0 0 1]\nndisp=many\n", "c.txt"); })
            .find("ndisp must be a number") != std::string::npos);
  CHECK(error_of([] { parse_middlebury_calib("cam0=[1 0 0;0 1 0;0 0 1]\nwhat is this\n", "c.txt"); })
            .find("expected 'key=value'") != std::string::npos);
  CHECK(error_of([] { parse_middlebury_calib("cam0=[1 0 0;0 1 0;0 0 1]\nndisp=64\n", "c.txt"); })
            .find("missing cam1") != std::string::npos);
  // Through the loader: the error names the file.
  test::TempDir t;
  const std::string dir = mkdir(t, "Bad");
  write_2014(dir, "cam0=[1 0 0;0 1 0;0 0 1]\ncam1 = [1 0 0 ; 0 1 0]\n");
  const std::string msg = error_of([&] { load_scene(find_scenes(dir)[0]); });
  CHECK(msg.find("calib.txt line 2") != std::string::npos);
}

TEST_CASE("A folder of scene folders: both layouts detected, sorted by name", "[datasets][middlebury]") {
  test::TempDir t;
  write_2005(mkdir(t, "Zebra"));
  write_2014(mkdir(t, "Apple"), kCalib);
  write_2005(mkdir(t, "Moebius"));
  mkdir(t, "not_a_scene");  // folders without any scene file are ignored
  write_file_atomic(t / "README.txt", std::string("hello"));
  const auto scenes = find_scenes(t.path().string());
  REQUIRE(scenes.size() == 3);
  CHECK(scenes[0].name == "Apple");
  CHECK(scenes[0].layout == MiddleburyLayout::Y2014);
  CHECK(scenes[1].name == "Moebius");
  CHECK(scenes[2].name == "Zebra");
  CHECK(scenes[2].layout == MiddleburyLayout::Y2005_2006);
}

TEST_CASE("Index CSV: columns by name, paths relative to the CSV's folder", "[datasets][middlebury]") {
  test::TempDir t;
  write_2005(mkdir(t, "data/Art"));
  write_2014(mkdir(t, "data/Pipes"), kCalib);
  write_file_atomic(t / "data/index.csv",
                    "scene,disp_divisor,left,right,disp_left,disp_encoding,invalid,masks,calib\n"
                    "Art,3,Art/view1.png,Art/view5.png,Art/disp1.png,png8,0,,\n"
                    "Pipes,,Pipes/im0.png,Pipes/im1.png,Pipes/disp0GT.pfm,pfm,,Pipes/mask0nocc.png,Pipes/calib.txt\n");
  const auto scenes = find_scenes(t / "data/index.csv");
  REQUIRE(scenes.size() == 2);
  CHECK(scenes[0].name == "Art");
  CHECK(scenes[0].layout == MiddleburyLayout::Index);
  const MiddleburyScene art = load_scene(scenes[0]);
  CHECK(art.disparity_left.at<float>(5, 5) == Approx(10.0f));
  CHECK(std::isnan(art.disparity_left.at<float>(0, 11)));
  const MiddleburyScene pipes = load_scene(scenes[1]);
  CHECK(std::isnan(pipes.disparity_left.at<float>(2, 3)));
  CHECK(pipes.nonocc_mask.at<std::uint8_t>(4, 5) == 0);
  CHECK(pipes.ndisp == 280);

  write_file_atomic(t / "data/noscene.csv", "name,left,right,disp_left\nA,a.png,b.png,c.png\n");
  CHECK(error_of([&] { find_scenes(t / "data/noscene.csv"); }).find("no column 'scene'") != std::string::npos);
}

TEST_CASE("Bad data folders give clear errors", "[datasets][middlebury][bad]") {
  test::TempDir t;
  SECTION("missing path") {
    try {
      find_scenes(t / "nope");
      FAIL("no error");
    } catch (const Error& e) {
      CHECK(e.category() == ErrorCategory::IO);
      CHECK(std::string(e.what()).find("nope") != std::string::npos);
    }
  }
  SECTION("a folder with no scenes") {
    mkdir(t, "empty/sub");
    CHECK(error_of([&] { find_scenes(t / "empty"); }).find("no Middlebury scenes") != std::string::npos);
  }
  SECTION("a scene missing a file") {
    const std::string dir = mkdir(t, "set/Books");
    write_2005(dir);
    fs::remove(dir + "/disp1.png");
    write_2005(mkdir(t, "set/Art"));
    const std::string msg = error_of([&] { find_scenes(t / "set"); });
    CHECK(msg.find("'Books'") != std::string::npos);
    CHECK(msg.find("missing disp1.png") != std::string::npos);
  }
  SECTION("a 2014 scene missing calib.txt") {
    const std::string dir = mkdir(t, "Pipes");
    write_2014(dir, kCalib);
    fs::remove(dir + "/calib.txt");
    CHECK(error_of([&] { find_scenes(dir); }).find("missing calib.txt") != std::string::npos);
  }
  SECTION("ground truth of another size") {
    const std::string dir = mkdir(t, "Odd");
    write_2005(dir);
    write_image(dir + "/disp1.png", cv::Mat(5, 5, CV_8U, cv::Scalar(9)));
    CHECK(error_of([&] { load_scene(find_scenes(dir)[0]); }).find("differs in size") != std::string::npos);
  }
  SECTION("a file that is not an index") {
    write_file_atomic(t / "x.txt", std::string("x"));
    CHECK(error_of([&] { find_scenes(t / "x.txt"); }).find("not an index CSV") != std::string::npos);
  }
}
