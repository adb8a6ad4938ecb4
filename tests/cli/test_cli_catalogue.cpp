// The catalogue of bad inputs (issue 9): each case through the CLI with its expected message,
// a non-zero exit that is not a crash, and no output file left behind.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <limits>
#include <sys/mount.h>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/engine/report.hpp"
#include "support.hpp"

using namespace dualcam;
using test::expect_refused;
using test::run_cli;
namespace fs = std::filesystem;

namespace {

struct Sample {
  test::TempDir dir;
  Sample() { REQUIRE(run_cli("sample -o \"" + dir.path().string() + "\"").exit_code == 0); }
  std::string p(const std::string& name) const { return dir / name; }
  std::string args(const std::string& mono, const std::string& color, const std::string& rig) const {
    return " --mono \"" + mono + "\" --color \"" + color + "\" --rig \"" + rig + "\"";
  }
  std::string good_args() const { return args(p("mono.png"), p("color.png"), p("rig.yaml")); }
};


// A tmpfs mounted for the test (needs root and mount permission); unmounted on destruction.
class TmpfsMount {
 public:
  TmpfsMount(const std::string& dir, const std::string& options) : dir_(dir) {
    fs::create_directories(dir);
    ok_ = ::mount("tmpfs", dir.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~TmpfsMount() {
    if (ok_) ::umount(dir_.c_str());
  }
  bool ok() const { return ok_; }
  void remount_read_only() { ok_ = ok_ && ::mount("tmpfs", dir_.c_str(), "tmpfs", MS_REMOUNT | MS_RDONLY, nullptr) == 0; }

 private:
  std::string dir_;
  bool ok_ = false;
};

}  // namespace

TEST_CASE("Catalogue: truncated PNG and JPEG, zero-byte file", "[cli][bad][catalogue]") {
  Sample s;
  const std::string out = s.p("out.png");
  cv::Mat color = read_image(s.p("color.png"));
  write_image(s.p("c.jpg"), color);
  std::string jpg = test::read_text(s.p("c.jpg"));
  write_file_atomic(s.p("cut.jpg"), jpg.substr(0, jpg.size() / 2));
  // A JPEG cut in half still decodes (the decoder pads the missing rows grey) or is refused;
  // either way no crash and, when refused, one line. Cut it to its headers only: refused.
  write_file_atomic(s.p("head.jpg"), jpg.substr(0, 300));
  expect_refused("fuse" + s.args(s.p("mono.png"), s.p("head.jpg"), s.p("rig.yaml")) + " -o \"" + out + "\"",
                 "head.jpg", out);
  std::string png = test::read_text(s.p("color.png"));
  write_file_atomic(s.p("cut.png"), png.substr(0, png.size() - 100));
  expect_refused("fuse" + s.args(s.p("mono.png"), s.p("cut.png"), s.p("rig.yaml")) + " -o \"" + out + "\"",
                 "cut.png", out);
  write_file_atomic(s.p("zero.png"), std::string());
  expect_refused("fuse" + s.args(s.p("zero.png"), s.p("color.png"), s.p("rig.yaml")) + " -o \"" + out + "\"",
                 "empty", out);
}

TEST_CASE("Catalogue: a header claiming 100000x100000 is refused before allocating", "[cli][bad][catalogue]") {
  Sample s;
  std::string bytes = test::read_text(s.p("color.png"));
  for (int off : {16, 20}) {
    const std::uint32_t v = 100000;
    for (int k = 0; k < 4; ++k) bytes[off + k] = char((v >> (8 * (3 - k))) & 0xFF);
  }
  write_file_atomic(s.p("huge.png"), bytes);
  const std::string out = s.p("out.png");
  expect_refused("fuse" + s.args(s.p("mono.png"), s.p("huge.png"), s.p("rig.yaml")) + " -o \"" + out + "\"",
                 "max_pixels limit of", out);
  // A lower limit refuses even the real sample.
  expect_refused("fuse" + s.good_args() + " --max-pixels 1000 -o \"" + out + "\"", "max_pixels limit of 1000", out);
}

TEST_CASE("Catalogue: 16-bit and 4-channel inputs are converted, 1-channel colour is refused",
          "[cli][bad][catalogue]") {
  Sample s;
  cv::Mat color = read_image(s.p("color.png")), mono = read_image(s.p("mono.png"));
  cv::Mat color16, bgra;
  color.convertTo(color16, CV_16U, 257.0);
  cv::cvtColor(color, bgra, cv::COLOR_BGR2BGRA);
  write_image(s.p("color16.png"), color16);
  write_image(s.p("color16.tif"), color16);
  cv::imwrite(s.p("bgra.png"), bgra);
  cv::Mat mono3;
  cv::cvtColor(mono, mono3, cv::COLOR_GRAY2BGR);
  write_image(s.p("mono3.png"), mono3);
  // 16-bit colour with 8-bit mono: accepted, output 16-bit like the colour input.
  auto r = run_cli("fuse" + s.args(s.p("mono.png"), s.p("color16.png"), s.p("rig.yaml")) + " -o \"" + s.p("o16.png") + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(read_image(s.p("o16.png")).depth() == CV_16U);
  r = run_cli("fuse" + s.args(s.p("mono.png"), s.p("color16.tif"), s.p("rig.yaml")) + " -o \"" + s.p("o16.tif") + "\"");
  REQUIRE(r.exit_code == 0);
  // 4-channel colour: the alpha is dropped.
  r = run_cli("fuse" + s.args(s.p("mono.png"), s.p("bgra.png"), s.p("rig.yaml")) + " -o \"" + s.p("o4.png") + "\"");
  REQUIRE(r.exit_code == 0);
  // A grey image saved as RGB is a valid mono.
  r = run_cli("fuse" + s.args(s.p("mono3.png"), s.p("color.png"), s.p("rig.yaml")) + " -o \"" + s.p("o3.png") + "\"");
  REQUIRE(r.exit_code == 0);
  // The same grey through a JPEG (its channels a level or so apart): a valid mono, and the report
  // says how far apart they were.
  {
    cv::Mat grey3 = read_image(s.p("mono3.png"));
    cv::Mat tint(grey3.size(), CV_16SC3);
    cv::randn(tint, 0, 1.0);  // a camera's grey is not exactly neutral: its chroma is quantised around 0
    grey3.convertTo(grey3, CV_16SC3);
    grey3 += tint;
    grey3.convertTo(grey3, CV_8UC3);
    std::vector<std::uint8_t> bytes;
    cv::imencode(".jpg", grey3, bytes, {cv::IMWRITE_JPEG_QUALITY, 90});
    write_image(s.p("mono3.jpg"), cv::imdecode(bytes, cv::IMREAD_COLOR));
    r = run_cli("fuse" + s.args(s.p("mono3.jpg"), s.p("color.png"), s.p("rig.yaml")) + " -o \"" + s.p("oj.png") +
                "\" --json \"" + s.p("oj.json") + "\"");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    const nlohmann::json j = nlohmann::json::parse(test::read_text(s.p("oj.json")));
    CHECK(j["inputs"]["mono_from_rgb"]["max_channel_difference"].get<double>() > 0);
  }
  // Colour where the mono should be, grey where the colour should be: refused.
  const std::string out = s.p("out.png");
  expect_refused("fuse" + s.args(s.p("color.png"), s.p("color.png"), s.p("rig.yaml")) + " -o \"" + out + "\"",
                 "has colour in it", out);
  expect_refused("fuse" + s.args(s.p("mono.png"), s.p("mono.png"), s.p("rig.yaml")) + " -o \"" + out + "\"",
                 "1 channel", out);
}

TEST_CASE("Catalogue: different sizes without a rig, and bad rigs", "[cli][bad][catalogue]") {
  Sample s;
  const std::string out = s.p("out.png");
  cv::Mat color = read_image(s.p("color.png"));
  write_image(s.p("crop.png"), color(cv::Rect(0, 0, 300, 200)).clone());
  expect_refused("fuse --rectified --mono \"" + s.p("mono.png") + "\" --color \"" + s.p("crop.png") + "\" -o \"" + out +
                     "\"",
                 "same size", out);
  StereoRig rig = read_rig(s.p("rig.yaml"));
  auto bad_rig = [&](const std::string& name, StereoRig r, const std::string& fragment) {
    write_file_atomic(s.p(name), format_rig(r));
    expect_refused("fuse" + s.args(s.p("mono.png"), s.p("color.png"), s.p(name)) + " -o \"" + out + "\"", fragment, out);
  };
  StereoRig inf = rig;
  inf.mono.K(0, 2) = std::numeric_limits<double>::infinity();
  bad_rig("inf.yaml", inf, "M1");
  StereoRig neg = rig;
  neg.color.K(1, 1) = -400;
  bad_rig("neg.yaml", neg, "focal length must be positive");
  StereoRig notrot = rig;
  notrot.R = notrot.R * 1.1;
  bad_rig("rot.yaml", notrot, "not a rotation");
}

TEST_CASE("Catalogue: thread counts", "[cli][bad][catalogue]") {
  Sample s;
  const std::string out = s.p("out.png");
  expect_refused("fuse" + s.good_args() + " --threads 100000 -o \"" + out + "\"", "--threads", out);
  expect_refused("fuse" + s.good_args() + " --threads abc -o \"" + out + "\"", "--threads", out);
  auto r = run_cli("fuse" + s.good_args() + " --threads 0 -o \"" + out + "\"");  // 0 = all cores
  CHECK(r.exit_code == 0);
}

TEST_CASE("Catalogue: read-only output directory and a full disk leave no output", "[cli][bad][catalogue]") {
  Sample s;
  {
    TmpfsMount ro(s.p("ro"), "size=1m");
    if (!ro.ok()) {
      DUALCAM_SKIP("cannot mount a tmpfs here (needs root): read-only and full-disk cases not run");
    }
    ro.remount_read_only();
    if (ro.ok()) expect_refused("fuse" + s.good_args() + " -o \"" + s.p("ro/out.png") + "\"", "not writable", s.p("ro/out.png"));
  }
  {
    TmpfsMount tiny(s.p("tiny"), "size=64k");
    REQUIRE(tiny.ok());
    // The fused PNG of the sample is about 300 KB: it cannot fit in 64 KB.
    const std::string out = s.p("tiny/out.png");
    expect_refused("fuse" + s.good_args() + " -o \"" + out + "\"", "No space left", out);
    int files = 0;
    for (auto& e : fs::directory_iterator(s.p("tiny"))) files += e.is_regular_file();
    CHECK(files == 0);  // not even a temporary file
  }
}
