// dualcam bench on a tiny pair: the report has every stage with both timings and the ratio, the rig
// path's row included.
#include <catch2/catch.hpp>

#include <cmath>
#include <filesystem>
#include <thread>

#include <opencv2/core.hpp>

#include <nlohmann/json.hpp>

#include "dualcam/engine/image_io.hpp"
#include "support.hpp"

using dualcam::test::run_cli;

namespace {
// `dualcam bench ARGS --json`, which must succeed; its report.
nlohmann::json bench_json(const std::string& args) {
  auto r = run_cli("bench " + args + " --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}
}  // namespace

TEST_CASE("dualcam bench times engine and peer stages side by side", "[cli][bench]") {
  auto r = run_cli("bench --size 160x120 --max-disparity 16 --repeat 1 --threads 1 --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  // depth, fuse mono, fuse colour, fuse rig, fuse rig with cached maps, bokeh, bokeh worst case
  // (bokeh-real is skipped: no --bokeh-data).
  REQUIRE(j["stages"].size() == 7);
  for (const auto& s : j["stages"]) {
    CHECK(s["engine_s"].get<double>() > 0);
    CHECK(s["peer_s"].get<double>() > 0);
    CHECK(s["engine_cpu_s"].get<double>() >= 0);
    CHECK(s["ratio"].get<double>() == Approx(s["engine_s"].get<double>() / s["peer_s"].get<double>()));
  }
  CHECK(j["threads"] == 1);
  // The fused images are compared with the simulator's truth, so a speed-up that costs quality shows.
  for (int i : {1, 2, 3}) {
    CHECK(j["stages"][i]["engine_psnr_db"].get<double>() > 10.0);
    CHECK(j["stages"][i]["peer_psnr_db"].get<double>() > 10.0);
  }
  // The rig path: the rectifier and the drift check are timed inside the fuse.
  CHECK(j["stages"][3]["stage"] == "fuse, rig path");
  CHECK(j["stages"][3]["engine_stages_s"]["rectify"].get<double>() > 0);
  CHECK(j["stages"][3]["color_input_psnr_db"].get<double>() > 10.0);
  CHECK(j["stages"][2]["engine_stages_s"]["rectify"].get<double>() < j["stages"][3]["engine_stages_s"]["rectify"].get<double>());
  CHECK(j["color_input_psnr_db"].get<double>() > 10.0);
  // The same through the cached maps: the same image.
  CHECK(j["stages"][4]["stage"] == "fuse, rig path (cached)");
  CHECK(j["stages"][4]["engine_psnr_db"].get<double>() == j["stages"][3]["engine_psnr_db"].get<double>());
  CHECK(j["stages"][6]["stage"] == "bokeh, worst case");
  CHECK(r.err.find("skipping the row bokeh-real") != std::string::npos);
}

TEST_CASE("dualcam bench bokeh rows on a Middlebury-style ground truth and the worst case", "[cli][bench]") {
  // A scene folder as Middlebury lays it out: view1.png and disp1.png (disparity x 3, 0 unknown).
  dualcam::test::TempDir dir;
  std::filesystem::create_directories(dir.path() / "Scene");
  cv::Mat view(60, 80, CV_8UC3), disp(60, 80, CV_8U);
  for (int y = 0; y < 60; ++y)
    for (int x = 0; x < 80; ++x) {
      view.at<cv::Vec3b>(y, x) = cv::Vec3b(uchar(3 * x), uchar(4 * y), uchar((x * y) % 256));
      disp.at<uchar>(y, x) = x < 5 ? 0 : uchar(30 + x + (y > 30 ? 60 : 0));
    }
  dualcam::write_image(dir / "Scene/view1.png", view);
  dualcam::write_image(dir / "Scene/disp1.png", disp);
  for (const std::string& data : std::vector<std::string>{dir.path().string(), dir / "Scene"}) {
    auto r = run_cli("bench --size 160x120 --repeat 1 --threads 2 --stages bokeh-real,bokeh-worst --bokeh-data \"" +
                     data + "\" --bokeh-scene Scene --json");
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    auto j = nlohmann::json::parse(r.out);
    REQUIRE(j["stages"].size() == 2);
    CHECK(j["stages"][0]["stage"] == "bokeh, Middlebury Scene");
    CHECK(j["stages"][1]["stage"] == "bokeh, worst case");
    for (const auto& s : j["stages"]) {
      CHECK(s["engine_s"].get<double>() > 0);
      CHECK(s["peer_s"].get<double>() > 0);
    }
  }
  // A folder without the scene: the row is skipped, with the reason.
  auto r = run_cli("bench --size 160x120 --repeat 1 --stages bokeh-real,bokeh-worst --bokeh-data \"" + dir.path().string() +
                   "\" --bokeh-scene Missing --json");
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["stages"].size() == 1);
  CHECK(r.err.find("skipping the row bokeh-real") != std::string::npos);
}

TEST_CASE("dualcam bench times chosen stages and the depth stage on one thread too", "[cli][bench]") {
  auto r = run_cli("bench --size 160x120 --max-disparity 16 --repeat 1 --threads 2 --stages depth --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["stages"].size() == 2);
  CHECK(j["stages"][0]["stage"] == "depth");
  CHECK(j["stages"][0]["threads"] == 2);
  CHECK(j["stages"][1]["stage"] == "depth, 1 thread");
  CHECK(j["stages"][1]["threads"] == 1);
  r = run_cli("bench --size 160x120 --max-disparity 16 --repeat 1 --threads 2 --stages depth --no-single-thread --json");
  REQUIRE(r.exit_code == 0);
  CHECK(nlohmann::json::parse(r.out)["stages"].size() == 1);
  r = run_cli("bench --size 160x120 --stages depth,warp");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--stages") != std::string::npos);
  r = run_cli("bench --size 10x10");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--size") != std::string::npos);
}

TEST_CASE("dualcam bench --stages fuse-raw: the raw path against the finished pictures of the same samples",
          "[cli][bench][raw]") {
  const auto j = bench_json("--size 320x240 --max-disparity 32 --repeat 1 --threads 2 --stages fuse-raw");
  REQUIRE(j["stages"].size() == 1);
  const auto& s = j["stages"][0];
  CHECK(s["stage"] == "fuse, raw frames");
  CHECK(s["engine_s"].get<double>() > 0);
  CHECK(s["peer_s"].get<double>() > 0);
  // Both outputs are real fusions of one scene: within a few dB of each other and well above noise.
  CHECK(s["engine_psnr_db"].get<double>() > 18.0);
  CHECK(std::abs(s["engine_psnr_db"].get<double>() - s["peer_psnr_db"].get<double>()) < 4.0);
  CHECK(s["engine_stages_s"].contains("merge"));
  // The raw path's own work is timed beside the stages, and inside the row's time.
  const auto& st = s["engine_stages_s"];
  REQUIRE(st.contains("develop"));
  REQUIRE(st.contains("raw_noise_fit"));
  CHECK(st["develop"].get<double>() > 0);
  CHECK(st["raw_noise_fit"].get<double>() > 0);
  CHECK(st["develop"].get<double>() + st["raw_noise_fit"].get<double>() + st["merge"].get<double>() <
        s["engine_s"].get<double>() * 1.5);
}

TEST_CASE("dualcam bench --stages fuse-command: the rig path from PNG files to a PNG file, beside the rig row",
          "[cli][bench]") {
  const auto j = bench_json("--size 320x240 --max-disparity 32 --repeat 1 --threads 2 --stages fuse-command,fuse-rig");
  REQUIRE(j["stages"].size() == 3);  // the command, the rig row and the rig row with cached maps
  const auto& cmd = j["stages"][0];
  const auto& rig = j["stages"][1];
  CHECK(cmd["stage"] == "fuse command, rig path");
  CHECK(rig["stage"] == "fuse, rig path");
  CHECK(cmd["engine_s"].get<double>() > 0);
  CHECK(cmd["peer_s"].get<double>() > 0);
  // The same pair and the same work, only through files: the same image within the PNG round trip.
  CHECK(std::abs(cmd["engine_psnr_db"].get<double>() - rig["engine_psnr_db"].get<double>()) < 0.5);
  CHECK(std::abs(cmd["peer_psnr_db"].get<double>() - rig["peer_psnr_db"].get<double>()) < 0.5);
}

TEST_CASE("dualcam bench --stages fuse-rig-mono: the rig row at the mono view, beside the colour view's", "[cli][bench]") {
  const auto j = bench_json("--size 320x240 --max-disparity 32 --repeat 1 --threads 2 --stages fuse-rig,fuse-rig-mono");
  REQUIRE(j["stages"].size() == 3);  // the rig row, the rig row with cached maps, the mono view
  const auto& rig = j["stages"][0];
  const auto& mono = j["stages"][2];
  CHECK(mono["stage"] == "fuse, rig path, mono view");
  CHECK(mono["engine_s"].get<double>() > 0);
  CHECK(mono["engine_stages_s"]["rectify"].get<double>() > 0);
  // Scored at the mono view, where the peer's output is too: the same peer as the colour row's.
  CHECK(mono["engine_psnr_db"].get<double>() > 10.0);
  CHECK(mono["peer_psnr_db"].get<double>() == rig["peer_psnr_db"].get<double>());
  CHECK(mono["engine_psnr_db"].get<double>() != rig["engine_psnr_db"].get<double>());
}

TEST_CASE("dualcam bench --stages fuse-scaling: a row per thread count from 1 to all cores", "[cli][bench]") {
  const auto j = bench_json("--size 320x240 --max-disparity 32 --repeat 1 --threads 1 --stages fuse-scaling");
  REQUIRE(j["stages"].size() >= 1);
  CHECK(j["stages"][0]["stage"] == "fuse colour, 1 thread");
  CHECK(j["stages"][0]["threads"] == 1);
  // Counts double up to the last, which is every core whatever --threads says.
  const auto& last = j["stages"][j["stages"].size() - 1];
  CHECK(last["threads"].get<int>() == int(std::thread::hardware_concurrency() > 0 ? std::thread::hardware_concurrency() : 1));
  for (const auto& s : j["stages"]) {
    CHECK(s["engine_s"].get<double>() > 0);
    CHECK(s["engine_psnr_db"].get<double>() > 18.0);
  }
}
