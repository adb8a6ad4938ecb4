// The methods dualcam eval binds: the peer's are peers.hpp's functions with the given settings,
// the engine's run the fuse pipeline and return what each protocol scores.
#include <catch2/catch.hpp>

#include <filesystem>

#include "datasets/synthetic_middlebury.hpp"
#include "dualcam/datasets/middlebury.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/eval/methods.hpp"
#include "support.hpp"

using namespace dualcam;
using namespace dualcam::eval;
namespace fs = std::filesystem;

namespace {

MethodInput tiny_input(Protocol protocol) {
  test::TempDir dir;
  test::write_middlebury_2005(test::make_synthetic_scene(1), dir.path().string());
  const auto scenes = datasets::find_scenes(dir.path().string());
  REQUIRE(scenes.size() == 1);
  MethodInput in = simulate_pair(datasets::load_scene(scenes[0]), protocol, {});
  in.ndisp = 16;
  return in;
}

}  // namespace

TEST_CASE("peer_method runs the peer of each protocol with the settings given", "[eval][methods]") {
  PeerMethodOptions o;
  o.depth.match.sgbm_speckle_window = 0;
  o.border = PeerBorder::Constant;
  o.denoise.h = 5;
  const MethodInput depth_in = tiny_input(Protocol::Depth);
  const cv::Mat d = peer_method(Protocol::Depth, o).run(depth_in);
  CHECK(cv::norm(d, peer_depth(depth_in.mono, depth_in.color, o.depth, 16), cv::NORM_INF) == 0);

  const MethodInput p1_in = tiny_input(Protocol::P1);
  PeerColorizeOptions c;
  c.depth = o.depth;
  c.border = o.border;
  CHECK(cv::norm(peer_method(Protocol::P1, o).run(p1_in), peer_colorize(p1_in.mono, p1_in.color, c, 16),
                 cv::NORM_INF) == 0);

  const MethodInput p2_in = tiny_input(Protocol::P2);
  const Method p2 = peer_method(Protocol::P2, o);
  CHECK(p2.name == "peer: OpenCV fastNlMeansDenoisingColored(5, 10, 7, 21)");
  CHECK(cv::norm(p2.run(p2_in), peer_denoise(p2_in.color, o.denoise), cv::NORM_INF) == 0);
  CHECK(peer_method(Protocol::P2).name == "peer: OpenCV fastNlMeansDenoisingColored(10, 10, 7, 21)");

  PeerMethodOptions bad;
  bad.denoise.template_window = 4;
  CHECK_THROWS_AS(peer_method(Protocol::P2, bad), Error);
}

TEST_CASE("engine_method returns the mono view's disparity and the colour image at each protocol's view",
          "[eval][methods]") {
  const MethodInput in = tiny_input(Protocol::Depth);
  const cv::Mat d = engine_method(Protocol::Depth).run(in);
  REQUIRE(d.type() == CV_32FC1);
  CHECK(d.size() == in.mono.size());
  CHECK(cv::countNonZero(d == d) > int(d.total()) / 2);  // mostly known (NaN != NaN)
  const MethodInput p1_in = tiny_input(Protocol::P1);
  const cv::Mat p1 = engine_method(Protocol::P1).run(p1_in);
  CHECK(p1.type() == CV_8UC3);
  CHECK(p1.size() == in.mono.size());
  const MethodInput p2_in = tiny_input(Protocol::P2);
  const cv::Mat p2 = engine_method(Protocol::P2).run(p2_in);
  CHECK(p2.type() == CV_8UC3);
  CHECK(cv::norm(p2, p2_in.color, cv::NORM_L1) > 0);  // fused, not passed through
}
