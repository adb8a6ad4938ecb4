// Bad input through the CLI: one clear line on stderr, a non-zero exit, no output left behind.
#include <catch2/catch.hpp>

#include <filesystem>
#include <limits>

#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rig.hpp"
#include "support.hpp"

using namespace dualcam;
using test::expect_refused;
using test::run_cli;

namespace {
struct Fixture {
  test::TempDir dir;
  Fixture() { REQUIRE(run_cli("sample -o \"" + dir.path().string() + "\"").exit_code == 0); }
  std::string p(const std::string& name) const { return dir / name; }
};

}  // namespace

TEST_CASE("Bad input to dualcam fuse gets one clear line and no output", "[cli][bad]") {
  Fixture f;
  const std::string out = f.p("out.png");
  const std::string rig = " --rig \"" + f.p("rig.yaml") + "\"";
  const std::string mono = " --mono \"" + f.p("mono.png") + "\"";
  const std::string color = " --color \"" + f.p("color.png") + "\"";
  const std::string o = " -o \"" + out + "\"";

  SECTION("missing file") { expect_refused("fuse --mono nope.png" + color + rig + o, "nope.png", out); }
  SECTION("corrupt image") {
    write_file_atomic(f.p("bad.png"), std::string("\x89PNG\r\n\x1a\n garbage", 17));
    expect_refused("fuse --mono \"" + f.p("bad.png") + "\"" + color + rig + o, "cannot decode", out);
  }
  SECTION("truncated image") {
    std::string bytes = test::read_text(f.p("color.png"));
    write_file_atomic(f.p("cut.png"), bytes.substr(0, bytes.size() / 3));
    expect_refused("fuse" + mono + " --color \"" + f.p("cut.png") + "\"" + rig + o, "cut.png", out);
  }
  SECTION("sizes that do not match the rig") {
    cv::Mat c = read_image(f.p("color.png"));
    write_image(f.p("small.png"), c(cv::Rect(0, 0, 200, 100)).clone());
    expect_refused("fuse" + mono + " --color \"" + f.p("small.png") + "\"" + rig + o, "200x100", out);
  }
  SECTION("rig with a missing key") {
    std::string text = test::read_text(f.p("rig.yaml"));
    text.replace(text.find("M1:"), 3, "Q7:");
    write_file_atomic(f.p("norig.yaml"), text);
    expect_refused("fuse" + mono + color + " --rig \"" + f.p("norig.yaml") + "\"" + o, "missing key 'M1'", out);
  }
  SECTION("rig with NaN") {
    StereoRig r = read_rig(f.p("rig.yaml"));
    r.T[0] = std::numeric_limits<double>::quiet_NaN();
    std::string text = format_rig(r);
    write_file_atomic(f.p("nan.yaml"), text);
    expect_refused("fuse" + mono + color + " --rig \"" + f.p("nan.yaml") + "\"" + o, "NaN", out);
  }
  SECTION("output directory that does not exist") {
    const std::string bad_out = f.p("no/such/dir/out.png");
    expect_refused("fuse" + mono + color + rig + " -o \"" + bad_out + "\"", "does not exist", bad_out);
  }
  SECTION("no rig and not rectified") { expect_refused("fuse" + mono + color + o, "--rig", out); }
  SECTION("nonsense options") {
    expect_refused("fuse" + mono + color + rig + o + " --threads -4", "--threads", out);
    expect_refused("fuse" + mono + color + rig + o + " --reference left", "--reference", out);
    expect_refused("fuse" + mono + color + rig + o + " --frobnicate", "frobnicate", out);
  }
  SECTION("colour image with one channel") {
    expect_refused("fuse" + mono + " --color \"" + f.p("mono.png") + "\"" + rig + o, "channel", out);
  }
  SECTION("depth refuses a non-PFM output") {
    expect_refused("depth" + mono + color + rig + " -o \"" + f.p("d.png") + "\"", ".pfm", f.p("d.png"));
  }
}

TEST_CASE("A failing write leaves the previous output untouched", "[cli][bad]") {
  Fixture f;
  // The disparity output goes to a missing directory: the whole command fails before writing.
  const std::string out = f.p("out.png");
  auto r = run_cli("fuse --mono \"" + f.p("mono.png") + "\" --color \"" + f.p("color.png") + "\" --rig \"" +
                   f.p("rig.yaml") + "\" -o \"" + out + "\" --disparity-out \"" + f.p("missing/d.pfm") + "\"");
  CHECK(r.exit_code != 0);
  CHECK_FALSE(std::filesystem::exists(out));
}
