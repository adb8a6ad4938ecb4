// dualcam bench on a tiny pair: the report has every stage with both timings and the ratio, the rig
// path's row included.
#include <catch2/catch.hpp>

#include <cmath>

#include <nlohmann/json.hpp>

#include "support.hpp"

using dualcam::test::run_cli;

TEST_CASE("dualcam bench times engine and peer stages side by side", "[cli][bench]") {
  auto r = run_cli("bench --size 160x120 --max-disparity 16 --repeat 1 --threads 1 --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["stages"].size() == 5);
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
  auto r = run_cli("bench --size 320x240 --max-disparity 32 --repeat 1 --threads 2 --stages fuse-raw --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["stages"].size() == 1);
  const auto& s = j["stages"][0];
  CHECK(s["stage"] == "fuse, raw frames");
  CHECK(s["engine_s"].get<double>() > 0);
  CHECK(s["peer_s"].get<double>() > 0);
  // Both outputs are real fusions of one scene: within a few dB of each other and well above noise.
  CHECK(s["engine_psnr_db"].get<double>() > 18.0);
  CHECK(std::abs(s["engine_psnr_db"].get<double>() - s["peer_psnr_db"].get<double>()) < 4.0);
  CHECK(s["engine_stages_s"].contains("merge"));
}
