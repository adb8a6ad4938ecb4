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

namespace {

// `filter(subsample)` at 1 thread against 2 and 3: the same bytes.
template <typename Filter>
void same_for_any_thread_count(Filter&& filter) {
  for (int s : {1, 2}) {
    cv::Mat one;
    {
      ThreadScope t(1);
      one = t.run([&] { return filter(s); });
    }
    for (int threads : {2, 3}) {
      ThreadScope t(threads);
      const cv::Mat many = t.run([&] { return filter(s); });
      INFO("subsample " << s << ", " << threads << " threads");
      CHECK(cv::norm(one, many, cv::NORM_INF) == 0);
    }
  }
}

}  // namespace

TEST_CASE("Guided filter gives the same result for any thread count", "[guided][threads]") {
  const Pair p = random_pair({613, 411}, 3, 3);
  same_for_any_thread_count([&](int s) { return fusion::guided_filter(p.guide, p.src, 4, 1e-4, s); });
}

namespace {

// A colour guide whose halves have the same luminance and different hues, and a source with
// that edge plus noise: only the guide's colour shows where it is.
Pair color_pair(cv::Size size, unsigned seed) {
  cv::RNG rng(seed);
  Pair p{cv::Mat(size, CV_32FC3), cv::Mat(size, CV_32FC3)};
  rng.fill(p.guide, cv::RNG::UNIFORM, 0.0, 0.1);
  rng.fill(p.src, cv::RNG::UNIFORM, 0.0, 0.3);
  const cv::Rect left(0, 0, std::max(1, size.width / 2), size.height);
  p.guide += cv::Scalar(0.2, 0.5, 0.8);
  p.guide(left) += cv::Scalar(0.6, 0.0, -0.6);
  p.src(left) += cv::Scalar(0.8, 0.1, 0.5);
  return p;
}

// The colour-guided filter as He et al. write it, with whole-image box filters and a 3x3 solve
// per pixel in double precision. (cv::ximgproc::guidedFilter with a 3-channel guide is not this
// filter: on a random guide in [0, 1] it differs by 0.06-0.18 for any eps scaling.)
cv::Mat reference_color(const cv::Mat& guide, const cv::Mat& src, int r, double eps) {
  auto box = [&](const cv::Mat& m) {
    cv::Mat o;
    cv::boxFilter(m, o, CV_64F, cv::Size(2 * r + 1, 2 * r + 1), cv::Point(-1, -1), true, cv::BORDER_REFLECT);
    return o;
  };
  std::vector<cv::Mat> I, P;
  cv::split(guide, I);
  cv::split(src, P);
  cv::Mat mI[3], mII[3][3], mP[3], mIP[3][3];
  for (int j = 0; j < 3; ++j) {
    mI[j] = box(I[j]);
    mP[j] = box(P[j]);
    for (int k = 0; k < 3; ++k) {
      mII[j][k] = box(I[j].mul(I[k]));
      mIP[j][k] = box(I[j].mul(P[k]));  // guide j, source k
    }
  }
  cv::Mat a[3][3], b[3];
  for (int c = 0; c < 3; ++c) {
    b[c].create(guide.size(), CV_64F);
    for (int j = 0; j < 3; ++j) a[c][j].create(guide.size(), CV_64F);
  }
  for (int y = 0; y < guide.rows; ++y)
    for (int x = 0; x < guide.cols; ++x) {
      cv::Matx33d S;
      for (int j = 0; j < 3; ++j)
        for (int k = 0; k < 3; ++k)
          S(j, k) = mII[j][k].at<double>(y, x) - mI[j].at<double>(y, x) * mI[k].at<double>(y, x) + (j == k ? eps : 0);
      const cv::Matx33d inv = S.inv();
      for (int c = 0; c < 3; ++c) {
        cv::Vec3d cov;
        for (int j = 0; j < 3; ++j) cov[j] = mIP[j][c].at<double>(y, x) - mI[j].at<double>(y, x) * mP[c].at<double>(y, x);
        const cv::Vec3d ac = inv * cov;
        double bc = mP[c].at<double>(y, x);
        for (int j = 0; j < 3; ++j) {
          a[c][j].at<double>(y, x) = ac[j];
          bc -= ac[j] * mI[j].at<double>(y, x);
        }
        b[c].at<double>(y, x) = bc;
      }
    }
  std::vector<cv::Mat> out(3);
  for (int c = 0; c < 3; ++c) {
    cv::Mat q = box(b[c]);
    for (int j = 0; j < 3; ++j) {
      cv::Mat ij;
      I[j].convertTo(ij, CV_64F);
      q += box(a[c][j]).mul(ij);
    }
    q.convertTo(out[c], CV_32F);
  }
  cv::Mat o;
  cv::merge(out, o);
  return o;
}

}  // namespace

TEST_CASE("Colour-guided filter at full resolution agrees with the whole-image formulation", "[guided]") {
  for (const cv::Size size : {cv::Size(97, 61), cv::Size(5, 3), cv::Size(1, 9), cv::Size(300, 200)})
    for (int radius : {1, 2, 4})
      for (double eps : {1e-3, 1e-1}) {
        const Pair p = color_pair(size, 5);
        cv::Mat ours = fusion::guided_filter_color(p.guide, p.src, radius, eps, 1);
        INFO(size << " radius " << radius << " eps " << eps);
        REQUIRE(ours.type() == CV_32FC3);
        CHECK(cv::norm(ours, reference_color(p.guide, p.src, radius, eps), cv::NORM_INF) < 1e-3);
      }
}

TEST_CASE("Colour-guided filter keeps an edge that only the guide's colour shows", "[guided]") {
  const Pair p = color_pair({120, 80}, 9);
  std::vector<cv::Mat> g;
  cv::split(p.guide, g);
  cv::Mat grey = (g[0] + g[1] + g[2]) / 3;  // the same on both halves, up to noise
  for (int s : {1, 2}) {
    const cv::Mat colour = fusion::guided_filter_color(p.guide, p.src, 4, 1e-2, s);
    const cv::Mat lum = fusion::guided_filter(grey, p.src, 4, 1e-2, s);
    // The step across the edge (columns 58 and 61), against the source's own (0.8 in blue).
    auto step = [](const cv::Mat& m) { return cv::mean(m.col(58))[0] - cv::mean(m.col(61))[0]; };
    INFO("subsample " << s);
    CHECK(step(colour) > 0.7);
    CHECK(step(lum) < 0.5);
  }
}

TEST_CASE("Colour-guided filter gives the same result for any thread count", "[guided][threads]") {
  const Pair p = color_pair({613, 411}, 3);
  same_for_any_thread_count([&](int s) { return fusion::guided_filter_color(p.guide, p.src, 4, 1e-4, s); });
}
