// The guided filter (fusion/guided.hpp): the streaming implementation against OpenCV's, the
// subsampled one against the same method written with whole-image OpenCV operations, and the
// same result for any thread count.
#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>
#include <opencv2/ximgproc/edge_filter.hpp>

#include "dualcam/engine/parallel.hpp"
#include "dualcam/fusion/guided.hpp"

using namespace dualcam;

namespace {

struct Pair {
  cv::Mat guide, src;
};

Pair random_pair(cv::Size size, int channels, unsigned seed) {
  cv::RNG rng(seed);
  Pair p{cv::Mat(size, CV_32F), cv::Mat(size, CV_32FC(channels))};
  rng.fill(p.guide, cv::RNG::UNIFORM, 0.0, 1.0);
  rng.fill(p.src, cv::RNG::UNIFORM, 0.0, 1.0);
  // Structure shared by guide and source (an edge), plus independent noise.
  cv::Mat edge(size, CV_32F, cv::Scalar(0.0));
  edge(cv::Rect(0, 0, size.width / 2, size.height)).setTo(0.8);
  p.guide = 0.2 * p.guide + edge;
  std::vector<cv::Mat> ch(channels, edge);
  cv::Mat e;
  cv::merge(ch, e);
  p.src = 0.3 * p.src + e;
  return p;
}

// The fast guided filter written with whole-image OpenCV operations (He & Sun 2015).
cv::Mat reference_fast(const cv::Mat& guide, const cv::Mat& src, int radius, double eps, int s) {
  const cv::Size small((guide.cols + s - 1) / s, (guide.rows + s - 1) / s);
  cv::Mat g, p;
  cv::resize(guide, g, small, 0, 0, cv::INTER_AREA);
  cv::resize(src, p, small, 0, 0, cv::INTER_AREA);
  const int r = std::max(1, radius / s);
  auto mean = [&](const cv::Mat& m) {
    cv::Mat out;
    cv::boxFilter(m, out, CV_32F, cv::Size(2 * r + 1, 2 * r + 1), cv::Point(-1, -1), true, cv::BORDER_REFLECT);
    return out;
  };
  const cv::Mat mean_g = mean(g);
  const cv::Mat var_g = mean(g.mul(g)) - mean_g.mul(mean_g);
  std::vector<cv::Mat> channels, out;
  cv::split(p, channels);
  for (const cv::Mat& pc : channels) {
    const cv::Mat mean_p = mean(pc);
    cv::Mat a = (mean(g.mul(pc)) - mean_g.mul(mean_p)) / (var_g + eps);
    cv::Mat b = mean_p - a.mul(mean_g);
    a = mean(a);
    b = mean(b);
    cv::resize(a, a, guide.size(), 0, 0, cv::INTER_LINEAR);
    cv::resize(b, b, guide.size(), 0, 0, cv::INTER_LINEAR);
    out.push_back(a.mul(guide) + b);
  }
  cv::Mat q;
  cv::merge(out, q);
  return q;
}

}  // namespace

TEST_CASE("Guided filter at full resolution agrees with OpenCV's", "[guided]") {
  for (const cv::Size size : {cv::Size(97, 61), cv::Size(5, 3), cv::Size(1, 9), cv::Size(300, 200)})
    for (int channels : {1, 3})
      for (int radius : {1, 2, 4}) {
        const Pair p = random_pair(size, channels, 7);
        const double eps = 1e-3;
        cv::Mat ours = fusion::guided_filter(p.guide, p.src, radius, eps, 1);
        cv::Mat theirs;
        cv::ximgproc::guidedFilter(p.guide, p.src, theirs, radius, eps, CV_32F);
        INFO(size << " channels " << channels << " radius " << radius);
        REQUIRE(ours.type() == p.src.type());
        CHECK(cv::norm(ours, theirs, cv::NORM_INF) < 1e-4);
      }
}

TEST_CASE("Subsampled guided filter agrees with the whole-image formulation", "[guided]") {
  for (const cv::Size size : {cv::Size(97, 61), cv::Size(400, 300)})
    for (int channels : {1, 3}) {
      const Pair p = random_pair(size, channels, 11);
      cv::Mat ours = fusion::guided_filter(p.guide, p.src, 4, 1e-3, 2);
      cv::Mat ref = reference_fast(p.guide, p.src, 4, 1e-3, 2);
      INFO(size << " channels " << channels);
      CHECK(cv::norm(ours, ref, cv::NORM_INF) < 1e-4);
    }
}

TEST_CASE("Guided filter gives the same result for any thread count", "[guided][threads]") {
  const Pair p = random_pair({613, 411}, 3, 3);
  for (int s : {1, 2}) {
    cv::Mat one;
    {
      ThreadScope t(1);
      one = t.run([&] { return fusion::guided_filter(p.guide, p.src, 4, 1e-4, s); });
    }
    for (int threads : {2, 3}) {
      ThreadScope t(threads);
      cv::Mat many = t.run([&] { return fusion::guided_filter(p.guide, p.src, 4, 1e-4, s); });
      CHECK(cv::norm(one, many, cv::NORM_INF) == 0);
    }
  }
}
