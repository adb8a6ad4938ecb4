// dualcam eval end to end on a tiny generated Middlebury-format set, and its bad options.
#include <catch2/catch.hpp>

#include <filesystem>

#include <nlohmann/json.hpp>

#include "datasets/synthetic_middlebury.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/rig.hpp"
#include "support.hpp"

using namespace dualcam;
using test::run_cli;
namespace fs = std::filesystem;

namespace {
struct TinySet {
  test::TempDir dir;
  std::string data;
  TinySet() {
    data = dir / "data";
    for (int i = 0; i < 2; ++i) {
      const fs::path p = fs::path(data) / ("s" + std::to_string(i));
      fs::create_directories(p);
      test::write_middlebury_2005(test::make_synthetic_scene(10 + i), p.string());
    }
  }
};

void expect_one_line_failure(const std::string& args, const std::string& fragment) {
  auto r = run_cli(args);
  INFO("args: " << args << "\nstderr: " << r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code < 128);
  CHECK(test::line_count(r.err) == 1);
  CHECK(r.err.find(fragment) != std::string::npos);
}
}  // namespace

TEST_CASE("dualcam eval depth: a table per scene, the mean, and a JSON report", "[cli][eval]") {
  TinySet set;
  const std::string json = set.dir / "depth.json";
  auto r = run_cli("eval --protocol depth --data \"" + set.data + "\" --method peer --threads 1 --json \"" + json + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("s0") != std::string::npos);
  CHECK(r.out.find("s1") != std::string::npos);
  CHECK(r.out.find("mean") != std::string::npos);
  CHECK(r.out.find("bad-2.0 %") != std::string::npos);
  CHECK(r.err.empty());  // no progress when stderr is not a terminal
  const auto j = nlohmann::json::parse(test::read_text(json));
  CHECK(j["eval"]["protocol"] == "depth");
  CHECK(j["eval"]["scenes"].size() == 2);
  const double bad2 = j["eval"]["mean"]["bad2_pct"].get<double>();
  CHECK(bad2 >= 0.0);
  CHECK(bad2 < 25.0);
  CHECK(j["eval"]["options"]["mono_weights_bgr"][1] == 0.45);
  CHECK(j["peer_sgbm"].contains("num_disparities"));
}

TEST_CASE("dualcam eval raw: both views fused from the raw frames and from the pictures of the same samples",
          "[cli][eval][raw]") {
  TinySet set;
  const std::string json = set.dir / "raw.json";
  auto r = run_cli("eval --protocol raw --data \"" + set.data + "\" --threads 2 --json \"" + json + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("colour gain") != std::string::npos);
  INFO(r.out);
  CHECK(r.out.find("ADC 10 bits") != std::string::npos);  // the protocol's sensor by default
  const auto j = nlohmann::json::parse(test::read_text(json));
  CHECK(j["eval"]["protocol"] == "raw");
  CHECK(j["eval"]["options"]["sensor"] == "realistic");
  CHECK(j["eval"]["options"]["light"] == 0.05);
  for (const auto& s : j["eval"]["scenes"]) {
    CHECK(s["color_gain_db"].get<double>() ==
          Approx(s["color_raw_db"].get<double>() - s["color_finished_db"].get<double>()));
    CHECK(s["mono_gain_db"].get<double>() ==
          Approx(s["mono_raw_db"].get<double>() - s["mono_finished_db"].get<double>()));
    // Fusing either input beats the colour frame developed alone.
    CHECK(s["color_raw_db"].get<double>() > s["develop_db"].get<double>());
    CHECK(s["color_finished_db"].get<double>() > 15.0);
  }
}

TEST_CASE("dualcam eval p1 and p2 with the engine, and changed sensor options", "[cli][eval]") {
  TinySet set;
  const std::string json = set.dir / "p2.json";
  auto r = run_cli("eval --protocol p2 --data \"" + set.data + "\" --method engine --json \"" + json + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("input PSNR dB") != std::string::npos);
  const auto j = nlohmann::json::parse(test::read_text(json));
  CHECK(j["eval"]["options"]["light"] == 0.05);
  CHECK(j["eval"]["mean"]["psnr_db"].get<double>() > 15.0);

  auto p1 = run_cli("eval --protocol p1 --data \"" + set.data + "/s0\" --mono-weights 0.2,0.4,0.4 --mono-gain 1.3");
  INFO(p1.err);
  REQUIRE(p1.exit_code == 0);
  CHECK(p1.out.find("PSNR eval dB") != std::string::npos);
  CHECK(p1.out.find("0.2,0.4,0.4 gain 1.3") != std::string::npos);

  auto same = run_cli("eval --protocol depth --data \"" + set.data + "\" --left-sensor color --method peer");
  INFO(same.err);
  CHECK(same.exit_code == 0);
  CHECK(same.out.find("left sensor color") != std::string::npos);
}

TEST_CASE("Bad options to dualcam eval get one clear line", "[cli][eval][bad]") {
  TinySet set;
  const std::string data = " --data \"" + set.data + "\"";
  expect_one_line_failure("eval --protocol focus" + data, "depth, p1, p2, raw, bokeh");
  expect_one_line_failure("eval --protocol raw --sensor simple" + data, "needs the realistic sensor");
  expect_one_line_failure("eval --protocol raw --method peer" + data, "no peer method");
  expect_one_line_failure("eval --protocol depth" + data + " --mono-weights 0.2,0.4", "--mono-weights");
  expect_one_line_failure("eval --protocol depth" + data + " --mono-weights a,b,c", "--mono-weights");
  expect_one_line_failure("eval --protocol depth --data \"" + (set.dir / "nope") + "\"", "does not exist");
  fs::create_directories(set.dir.path() / "empty");
  expect_one_line_failure("eval --protocol depth --data \"" + (set.dir / "empty") + "\"", "no Middlebury scenes");
  expect_one_line_failure("eval --protocol p1 --left-sensor color" + data, "depth protocol");
  expect_one_line_failure("eval --protocol depth --method magic" + data, "--method");
  expect_one_line_failure("eval --protocol depth --scenes zz" + data, "no scene 'zz'");
  expect_one_line_failure("eval --protocol depth --rig-path" + data, "p1 and p2 only");
  expect_one_line_failure("eval --protocol p1 --rig-path --rig auto" + data, "--rig auto");
  expect_one_line_failure("eval --protocol p2 --sensor fancy" + data, "--sensor");
  expect_one_line_failure("eval --protocol p2 --sensor realistic --adc-bits 7" + data, "adc_bits");
  expect_one_line_failure("eval --protocol p2 --sensor realistic --adc-bits many" + data, "--adc-bits");
  expect_one_line_failure("eval --protocol p2 --adc-bits 10" + data, "--sensor realistic only");
  expect_one_line_failure("eval --protocol depth --sensor realistic --light 2" + data, "realistic");
  expect_one_line_failure("eval --protocol bokeh --sensor realistic", "depth, p1, p2 and raw protocols only");
}

TEST_CASE("dualcam eval --sensor realistic: the pair through the realistic cameras, recorded in the report",
          "[cli][eval]") {
  TinySet set;
  const std::string json = set.dir / "p2r.json";
  auto r = run_cli("eval --protocol p2 --data \"" + set.data + "\" --method peer --sensor realistic --adc-bits 10 "
                   "--json \"" + json + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("sensor realistic") != std::string::npos);
  CHECK(r.out.find("ADC 10 bits") != std::string::npos);
  const auto j = nlohmann::json::parse(test::read_text(json));
  CHECK(j["eval"]["options"]["sensor"] == "realistic");
  CHECK(j["eval"]["options"]["adc_bits"] == 10);
  CHECK(j["eval"]["options"]["realistic_color_camera"]["adc_bits"] == 10);
  auto simple = run_cli("eval --protocol p2 --data \"" + set.data + "\" --method peer --json \"" + json + "\"");
  REQUIRE(simple.exit_code == 0);
  const auto js = nlohmann::json::parse(test::read_text(json));
  CHECK(js["eval"]["options"]["sensor"] == "simple");
  // Another pair: the input's PSNR differs.
  CHECK(js["eval"]["mean"]["input_psnr_db"].get<double>() != j["eval"]["mean"]["input_psnr_db"].get<double>());
}

TEST_CASE("dualcam eval --rig-path: the pair through a rig, the rig saved with the inputs", "[cli][eval]") {
  TinySet set;
  const std::string saved = set.dir / "saved";
  fs::create_directories(saved);
  const std::string json = set.dir / "p1.json";
  auto r = run_cli("eval --protocol p1 --data \"" + set.data + "/s0\" --method peer --rig-path --threads 1 --save-dir \"" +
                   saved + "\" --json \"" + json + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("rig path") != std::string::npos);
  CHECK(r.out.find("PSNR eval dB") != std::string::npos);
  const auto j = nlohmann::json::parse(test::read_text(json));
  CHECK(j["rig_path"] == true);
  CHECK(j["eval"]["options"]["rig_path"]["mono_distortion"].size() == 5);
  const StereoRig rig = read_rig((fs::path(saved) / "s0_rig.yaml").string());
  const cv::Mat mono = read_image((fs::path(saved) / "s0_mono.png").string());
  CHECK(rig.mono.size == mono.size());
  CHECK(rig.baseline() > 0);
}

TEST_CASE("dualcam eval --save-dir writes each scene's inputs and the method's output", "[cli][eval]") {
  TinySet set;
  const std::string saved = set.dir / "saved";
  expect_one_line_failure("eval --protocol p2 --data \"" + set.data + "\" --method peer --save-dir \"" + saved + "\"",
                          "--save-dir");
  fs::create_directories(saved);
  auto r = run_cli("eval --protocol p2 --data \"" + set.data + "\" --method peer --threads 1 --save-dir \"" + saved + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  for (const char* scene : {"s0", "s1"}) {
    const cv::Mat mono = read_image((fs::path(saved) / (std::string(scene) + "_mono.png")).string());
    const cv::Mat color = read_image((fs::path(saved) / (std::string(scene) + "_color.png")).string());
    const cv::Mat output = read_image((fs::path(saved) / (std::string(scene) + "_output.png")).string());
    CHECK(mono.type() == CV_8UC1);
    CHECK(color.type() == CV_8UC3);
    CHECK(output.type() == CV_8UC3);
    CHECK(output.size() == color.size());
    CHECK(cv::norm(output, color, cv::NORM_L1) > 0);  // the peer's denoised image, not the input
  }
}

TEST_CASE("dualcam eval --protocol real: per pair and view the input, NLM and the engine, without a reference",
          "[cli][eval][real]") {
  test::TempDir dir;
  const std::string pair = dir / "pair_a";
  auto sim = run_cli("simulate -o \"" + pair + "\" --size 480x360 --light 0.1 --seed 5");
  REQUIRE(sim.exit_code == 0);
  const std::string json = dir / "real.json";
  auto r = run_cli("eval --protocol real --data \"" + dir.path().string() + "\" --threads 2 --json \"" + json + "\"");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  CHECK(r.out.find("pair_a") != std::string::npos);
  const auto j = nlohmann::json::parse(test::read_text(json));
  REQUIRE(j["eval"]["pairs"].size() == 1);
  const auto& color = j["eval"]["pairs"][0]["color"];
  REQUIRE(color.contains("methods"));  // the simulated pair self-rectifies
  for (const char* m : {"input", "nlm", "engine"}) REQUIRE(color["methods"].contains(m));
  // The simulated colour camera at light 0.1 is noisy; the engine and NLM both clean it.
  const double input = color["methods"]["input"]["flat_noise"].get<double>();
  CHECK(color["methods"]["engine"]["flat_noise"].get<double>() < 0.8 * input);
  CHECK(color["methods"]["nlm"]["flat_noise"].get<double>() < input);
  CHECK(color["alignment"]["row_error_rms_px"].get<double>() < 1.0);
  const auto& mono = j["eval"]["pairs"][0]["mono"];
  REQUIRE(mono.contains("methods"));
  CHECK(mono["methods"]["engine"]["detail_correlation"].get<double>() > 0.5);
  CHECK(j["eval"]["mean"].contains("color/engine"));
}

TEST_CASE("dualcam eval --protocol real: bad data gets one clear line", "[cli][eval][real][bad]") {
  test::TempDir dir;
  expect_one_line_failure("eval --protocol real --data \"" + dir.path().string() + "\"", "no folder under");
  expect_one_line_failure("eval --protocol real --data \"" + std::string(dir / "missing") + "\"", "is not a folder");
  expect_one_line_failure("eval --protocol real", "--data is required");
  expect_one_line_failure("eval --protocol real --data \"" + dir.path().string() + "\" --method peer", "protocol real runs every method");
}
