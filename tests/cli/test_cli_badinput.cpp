// Bad input through the CLI: one clear line on stderr, a non-zero exit, no output left behind.
#include <catch2/catch.hpp>

#include <algorithm>
#include <filesystem>
#include <limits>
#include <vector>

#include <opencv2/core.hpp>

#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rig.hpp"
#include "support.hpp"

using namespace dualcam;
using test::expect_refused;
using test::run_cli;

namespace {
using Fixture = test::SampleDir;

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

TEST_CASE("A run that fails mid-way leaves the previous output untouched and no temporary file", "[cli][bad]") {
  Fixture f;
  const std::string out = f.p("out.png");
  const std::string previous = "the previous output";
  write_file_atomic(out, previous.data(), previous.size());
  auto files = [&] {
    std::vector<std::string> names;
    for (const auto& e : std::filesystem::directory_iterator(f.dir.path())) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  };
  const auto before = files();
  const std::string pair = " --mono \"" + f.p("mono.png") + "\" --color \"" + f.p("color.png") + "\"";
  test::CliResult r;
  SECTION("the computation fails after the inputs are read") {
    // A featureless mono: self-rectification finds nothing to align (a numerical error).
    write_image(f.p("flat.png"), cv::Mat(360, 480, CV_8U, cv::Scalar(128)));
    r = run_cli("fuse --mono \"" + f.p("flat.png") + "\" --color \"" + f.p("color.png") + "\" --rig auto -o \"" + out + "\"");
    CHECK(r.exit_code == 6);
    CHECK(std::filesystem::remove(f.p("flat.png")));
  }
  SECTION("the output cannot be written once the work is done") {
    // Files may not grow beyond 64 KiB (the fused PNG is about 300 KB): the write fails with
    // EFBIG after the whole computation (SIGXFSZ ignored, as a shell's ulimit leaves it).
    r = run_cli("fuse" + pair + " --rig \"" + f.p("rig.yaml") + "\" -o \"" + out + "\"", "trap '' XFSZ; ulimit -f 64; ");
    CHECK(r.exit_code == 4);
    CHECK_THAT(r.err, Catch::Contains("out.png"));
  }
  INFO(r.err);
  CHECK(r.exit_code < 128);  // not a crash
  CHECK(test::line_count(r.err) == 1);
  CHECK(test::read_text(out) == previous);
  CHECK(files() == before);  // no temporary file left behind
}
