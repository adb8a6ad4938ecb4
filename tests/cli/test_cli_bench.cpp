// dualcam bench on a tiny pair: the report has every stage with both timings and the ratio.
#include <catch2/catch.hpp>

#include <nlohmann/json.hpp>

#include "support.hpp"

using dualcam::test::run_cli;

TEST_CASE("dualcam bench times engine and peer stages side by side", "[cli][bench]") {
  auto r = run_cli("bench --size 160x120 --max-disparity 16 --repeat 1 --threads 1 --json");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  auto j = nlohmann::json::parse(r.out);
  REQUIRE(j["stages"].size() == 4);
  for (const auto& s : j["stages"]) {
    CHECK(s["engine_s"].get<double>() > 0);
    CHECK(s["peer_s"].get<double>() > 0);
    CHECK(s["ratio"].get<double>() == Approx(s["engine_s"].get<double>() / s["peer_s"].get<double>()));
  }
  CHECK(j["threads"] == 1);
  r = run_cli("bench --size 10x10");
  CHECK(r.exit_code == 2);
  CHECK(r.err.find("--size") != std::string::npos);
}
