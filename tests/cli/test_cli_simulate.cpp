// dualcam simulate through the CLI: the files it promises, and bad options (one clear line on
// stderr, a non-zero exit, nothing written).
#include <catch2/catch.hpp>

#include <filesystem>

#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rig.hpp"
#include "support.hpp"

using namespace dualcam;
using test::run_cli;
namespace fs = std::filesystem;

TEST_CASE("dualcam simulate writes the pair, the rig, the truth and the bokeh truth", "[cli][simulate]") {
  test::TempDir dir;
  const std::string out = dir / "sim";
  auto r = run_cli("simulate -o \"" + out + "\" --size 160x120 --color-size 128x96 --color-position 0,-10,0 "
                   "--rotation 0.3,-0.2,0.5 --mono-distortion -0.08,0.02 --light 0.2 --focus-depth 300 "
                   "--aperture-radius 1 --bokeh-samples 16 --supersample 1 --json \"" + (dir / "r.json") + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* name : {"mono.png", "color.png", "rig.yaml", "truth_color.png", "truth_mono_view.png",
                           "depth_mono.pfm", "depth_color.pfm", "disparity_mono.pfm", "disparity_color.pfm",
                           "bokeh_truth.png"})
    CHECK(fs::exists(fs::path(out) / name));
  const StereoRig rig = read_rig(out + "/rig.yaml");
  CHECK(rig.mono.size == cv::Size(160, 120));
  CHECK(rig.color.size == cv::Size(128, 96));
  CHECK(read_image(out + "/color.png").size() == cv::Size(128, 96));
  CHECK(read_image(out + "/bokeh_truth.png").size() == cv::Size(128, 96));
  CHECK(read_pfm(out + "/disparity_mono.pfm").size() == cv::Size(160, 120));
  CHECK(read_pfm(out + "/depth_color.pfm").size() == cv::Size(128, 96));
  CHECK(test::read_text(dir / "r.json").find("\"render\"") != std::string::npos);

  // The same geometry from the rig file gives the same images.
  const std::string again = dir / "again";
  r = run_cli("simulate -o \"" + again + "\" --rig \"" + out + "/rig.yaml\" --light 0.2 --supersample 1");
  REQUIRE(r.exit_code == 0);
  CHECK(test::read_text(again + "/color.png") == test::read_text(out + "/color.png"));
  CHECK(test::read_text(again + "/disparity_color.pfm") == test::read_text(out + "/disparity_color.pfm"));
}

TEST_CASE("dualcam simulate --help has an example", "[cli][simulate]") {
  auto r = run_cli("simulate --help");
  CHECK(r.exit_code == 0);
  CHECK(r.out.find("Example:") != std::string::npos);
  CHECK(r.out.find("--focus-depth") != std::string::npos);
}

TEST_CASE("Bad options to dualcam simulate get one clear line and no output", "[cli][simulate][bad]") {
  test::TempDir dir;
  const std::string out = dir / "sim";
  const std::string o = " -o \"" + out + "\" --size 96x72 --supersample 1";
  auto expect_failure = [&](const std::string& args, const std::string& fragment) {
    auto r = run_cli(args);
    INFO("args: " << args << "\nstderr: " << r.err);
    CHECK(r.exit_code != 0);
    CHECK(r.exit_code < 128);  // not a crash
    CHECK(test::line_count(r.err) == 1);
    CHECK(r.err.find(fragment) != std::string::npos);
    CHECK_FALSE(fs::exists(out));
  };
  datasets::SimulateOptions so;
  so.mono.size = so.color.size = {96, 72};
  write_rig(dir / "rig.yaml", datasets::simulation_rig(so));

  SECTION("no output") { expect_failure("simulate --size 96x72", "--output"); }
  SECTION("image too small") { expect_failure("simulate" + o + " --mono-size 10x10", "mono_size[0]: must be in [16, 8192]"); }
  SECTION("size that is not WxH") { expect_failure("simulate -o \"" + out + "\" --size 640by480", "--size"); }
  SECTION("distortion that is not a number") {
    expect_failure("simulate" + o + " --mono-distortion 0.1,abc", "--mono-distortion");
  }
  SECTION("too many distortion coefficients") {
    expect_failure("simulate" + o + " --color-distortion 0,0,0,0,0,0", "--color-distortion");
  }
  SECTION("no baseline") { expect_failure("simulate" + o + " --color-position 0,0,0", "color_position_mm"); }
  SECTION("rotation out of range") { expect_failure("simulate" + o + " --rotation 0,120,0", "rotation_deg"); }
  SECTION("aperture without focus") { expect_failure("simulate" + o + " --aperture-radius 2", "--focus-depth"); }
  SECTION("f-number without focal length") {
    expect_failure("simulate" + o + " --focus-depth 300 --f-number 2.8", "--focal-mm");
  }
  SECTION("one depth bound") { expect_failure("simulate" + o + " --near-mm 100", "near_mm and far_mm"); }
  SECTION("depth range too thin") { expect_failure("simulate" + o + " --near-mm 100 --far-mm 120", "far_mm"); }
  SECTION("vignetting of 1.5") { expect_failure("simulate" + o + " --mono-vignetting 1.5", "mono_vignetting: must be in [0"); }
  SECTION("unknown scene") { expect_failure("simulate" + o + " --scene forest", "--scene"); }
  SECTION("supersample 0") { expect_failure("simulate" + o + " --supersample 0", "--supersample"); }
  SECTION("bokeh samples 0") {
    expect_failure("simulate" + o + " --focus-depth 300 --aperture-radius 1 --bokeh-samples 0", "bokeh_samples: must be in [1");
  }
  SECTION("missing rig file") { expect_failure("simulate -o \"" + out + "\" --rig nope.yaml", "nope.yaml"); }
  SECTION("rig together with geometry options") {
    expect_failure("simulate -o \"" + out + "\" --rig \"" + (dir / "rig.yaml") + "\" --size 96x72", "--rig");
  }
  SECTION("rig with an absurd image size") {
    StereoRig huge = datasets::simulation_rig(so);
    huge.mono.size = {30000, 72};
    write_rig(dir / "huge.yaml", huge);
    expect_failure("simulate -o \"" + out + "\" --rig \"" + (dir / "huge.yaml") + "\"", "rig mono.size.width");
  }
  SECTION("a lens that folds over the image") {
    expect_failure("simulate" + o + " --mono-distortion -0.5 --mono-focal 50", "cannot be inverted");
  }
  SECTION("report into a missing directory") {
    expect_failure("simulate" + o + " --json \"" + (dir / "no/such/r.json") + "\"", "does not exist");
  }
}
