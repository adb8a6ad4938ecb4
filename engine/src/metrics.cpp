#include "dualcam/engine/metrics.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>
#include <limits>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"

namespace dualcam {

double psnr8(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  if (a.size() != b.size() || a.type() != b.type() || a.depth() != CV_8U)
    throw_invalid("psnr8: images must be 8-bit and of the same size and type");
  double sse = 0;
  long long n = 0;
  const int ch = a.channels();
  for (int r = 0; r < a.rows; ++r) {
    const std::uint8_t* pa = a.ptr<std::uint8_t>(r);
    const std::uint8_t* pb = b.ptr<std::uint8_t>(r);
    const std::uint8_t* pm = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(r);
    for (int c = 0; c < a.cols; ++c) {
      if (pm && !pm[c]) continue;
      for (int k = 0; k < ch; ++k) {
        double d = double(pa[c * ch + k]) - double(pb[c * ch + k]);
        sse += d * d;
      }
      n += ch;
    }
  }
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  if (sse == 0) return std::numeric_limits<double>::infinity();
  return 10.0 * std::log10(255.0 * 255.0 / (sse / double(n)));
}

double chroma_rms8(const cv::Mat& a, const cv::Mat& b, const cv::Mat& mask) {
  if (a.size() != b.size() || a.type() != CV_8UC3 || b.type() != CV_8UC3)
    throw_invalid("chroma_rms8: images must be 8-bit BGR (CV_8UC3) of the same size");
  if (!mask.empty() && (mask.size() != a.size() || mask.type() != CV_8UC1))
    throw_invalid("chroma_rms8: the mask must be CV_8UC1 of the images' size");
  auto chroma = [](const std::uint8_t* p, double& cb, double& cr) {
    const double y = 0.114 * p[0] + 0.587 * p[1] + 0.299 * p[2];
    cb = 0.564 * (p[0] - y);
    cr = 0.713 * (p[2] - y);
  };
  double sse = 0;
  long long n = 0;
  for (int r = 0; r < a.rows; ++r) {
    const std::uint8_t* pa = a.ptr<std::uint8_t>(r);
    const std::uint8_t* pb = b.ptr<std::uint8_t>(r);
    const std::uint8_t* pm = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(r);
    for (int c = 0; c < a.cols; ++c) {
      if (pm && !pm[c]) continue;
      double cba, cra, cbb, crb;
      chroma(pa + 3 * c, cba, cra);
      chroma(pb + 3 * c, cbb, crb);
      sse += (cba - cbb) * (cba - cbb) + (cra - crb) * (cra - crb);
      n += 2;
    }
  }
  if (n == 0) return std::numeric_limits<double>::quiet_NaN();
  return std::sqrt(sse / double(n));
}

double ssim8(const cv::Mat& a, const cv::Mat& b) {
  if (a.size() != b.size() || a.type() != b.type() || a.depth() != CV_8U)
    throw_invalid("ssim8: images must be 8-bit and of the same size and type");
  const double C1 = (0.01 * 255) * (0.01 * 255), C2 = (0.03 * 255) * (0.03 * 255);
  std::vector<cv::Mat> ca, cb;
  cv::split(a, ca);
  cv::split(b, cb);
  double total = 0;
  for (std::size_t k = 0; k < ca.size(); ++k) {
    cv::Mat x, y;
    ca[k].convertTo(x, CV_64F);
    cb[k].convertTo(y, CV_64F);
    cv::Mat mx, my, sxx, syy, sxy;
    const cv::Size win(11, 11);
    cv::GaussianBlur(x, mx, win, 1.5);
    cv::GaussianBlur(y, my, win, 1.5);
    cv::GaussianBlur(x.mul(x), sxx, win, 1.5);
    cv::GaussianBlur(y.mul(y), syy, win, 1.5);
    cv::GaussianBlur(x.mul(y), sxy, win, 1.5);
    cv::Mat mx2 = mx.mul(mx), my2 = my.mul(my), mxy = mx.mul(my);
    sxx -= mx2;
    syy -= my2;
    sxy -= mxy;
    cv::Mat num = (2 * mxy + C1).mul(2 * sxy + C2);
    cv::Mat den = (mx2 + my2 + C1).mul(sxx + syy + C2);
    cv::Mat ssim_map;
    cv::divide(num, den, ssim_map);
    total += cv::mean(ssim_map)[0];
  }
  return total / double(ca.size());
}

ImageComparison compare_images(const cv::Mat& image, const cv::Mat& reference) {
  auto to8 = [](const cv::Mat& m) {
    if (m.depth() == CV_8U) return m;
    if (m.depth() != CV_16U) throw_invalid("compare: only 8- and 16-bit images are compared");
    cv::Mat out;
    m.convertTo(out, CV_8U, 1.0 / 257.0);
    return out;
  };
  const cv::Mat a = to8(image), b = to8(reference);
  if (a.size() != b.size())
    throw_invalid("compare: the images differ in size (" + std::to_string(a.cols) + "x" + std::to_string(a.rows) +
                  " vs " + std::to_string(b.cols) + "x" + std::to_string(b.rows) + ")");
  if (a.channels() != b.channels())
    throw_invalid("compare: the images differ in channel count (" + std::to_string(a.channels()) + " vs " +
                  std::to_string(b.channels()) + ")");
  ImageComparison c;
  c.psnr_db = psnr8(a, b);
  c.ssim = ssim8(a, b);
  cv::Mat diff;
  cv::absdiff(a, b, diff);
  double mx = 0;
  cv::minMaxLoc(diff.reshape(1), nullptr, &mx);
  c.max_abs_diff = int(mx);
  cv::Mat any = diff.reshape(1, int(diff.total())) ;
  cv::Mat per_pixel;
  cv::reduce(any, per_pixel, 1, cv::REDUCE_MAX);
  c.differing_share = double(cv::countNonZero(per_pixel)) / double(per_pixel.total());
  return c;
}

DisparityErrors disparity_errors(const cv::Mat& estimate, const cv::Mat& truth, const cv::Mat& mask) {
  if (estimate.size() != truth.size() || estimate.type() != CV_32F || truth.type() != CV_32F)
    throw_invalid("disparity_errors: estimate and truth must be CV_32F of the same size");
  DisparityErrors e;
  long long bad1 = 0, bad2 = 0, known = 0;
  double abs_sum = 0;
  for (int r = 0; r < truth.rows; ++r) {
    const float* pe = estimate.ptr<float>(r);
    const float* pt = truth.ptr<float>(r);
    const std::uint8_t* pm = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(r);
    for (int c = 0; c < truth.cols; ++c) {
      if (!(pt[c] > 0) || (pm && !pm[c])) continue;
      ++e.evaluated;
      if (!std::isfinite(pe[c])) {
        ++bad1;
        ++bad2;
        continue;
      }
      double err = std::abs(double(pe[c]) - pt[c]);
      abs_sum += err;
      ++known;
      if (err > 1.0) ++bad1;
      if (err > 2.0) ++bad2;
    }
  }
  if (e.evaluated > 0) {
    e.bad1 = double(bad1) / double(e.evaluated);
    e.bad2 = double(bad2) / double(e.evaluated);
  }
  e.mae_px = known > 0 ? abs_sum / double(known) : std::numeric_limits<double>::quiet_NaN();
  return e;
}

namespace {

cv::Mat luminance8(const cv::Mat& image, const char* who) {
  if (image.empty() || image.depth() != CV_8U || (image.channels() != 1 && image.channels() != 3))
    throw_invalid(std::string(who) + ": expected an 8-bit grey or BGR image");
  if (image.channels() == 1) return image;
  cv::Mat y;
  cv::cvtColor(image, y, cv::COLOR_BGR2GRAY);
  return y;
}

cv::Mat band_pass(const cv::Mat& grey8) {
  cv::Mat f, a, b;
  grey8.convertTo(f, CV_32F);
  cv::GaussianBlur(f, a, cv::Size(), 1.0, 1.0, cv::BORDER_REFLECT101);
  cv::GaussianBlur(f, b, cv::Size(), 3.0, 3.0, cv::BORDER_REFLECT101);
  return a - b;
}

}  // namespace

cv::Mat flat_area_mask(const cv::Mat& guide, double share) {
  check_range("flat_area_mask: share", share, 0.001, 1);
  const cv::Mat g = luminance8(guide, "flat_area_mask");
  constexpr int kB = 16;  // blocks: a flat area is a region, not scattered pixels
  const int bw = g.cols / kB, bh = g.rows / kB;
  if (bw < 1 || bh < 1) throw_invalid("flat_area_mask: the guide is smaller than 16x16");
  cv::Mat f, smooth, fine;
  g.convertTo(f, CV_32F);
  // Shading and edges: the spread of the guide blurred (sigma 3, so noise does not count).
  cv::GaussianBlur(f, smooth, cv::Size(), 3.0, 3.0, cv::BORDER_REFLECT101);
  // Fine texture, which that blur hides (a grating is flat at sigma 3): the energy of the
  // guide's high-pass, which over a flat area is the guide's noise, the same everywhere.
  cv::GaussianBlur(f, fine, cv::Size(), 1.5, 1.5, cv::BORDER_REFLECT101);
  fine = f - fine;
  cv::multiply(fine, fine, fine);
  struct Block {
    float spread, energy, mean;
  };
  std::vector<Block> blocks(std::size_t(bw) * bh);
  for (int by = 0; by < bh; ++by)
    for (int bx = 0; bx < bw; ++bx) {
      const cv::Rect r(bx * kB, by * kB, kB, kB);
      cv::Scalar m, sd;
      cv::meanStdDev(smooth(r), m, sd);
      blocks[std::size_t(by) * bw + bx] = {float(sd[0]), float(cv::mean(fine(r))[0]), float(m[0])};
    }
  auto quantile = [&](float Block::*field, double q) {
    std::vector<float> v;
    for (const Block& b : blocks) v.push_back(b.*field);
    const std::size_t k = std::min(v.size() - 1, std::size_t(q * double(v.size())));
    std::nth_element(v.begin(), v.begin() + k, v.end());
    return v[k];
  };
  const float spread_limit = quantile(&Block::spread, share), energy_limit = quantile(&Block::energy, 0.5);
  cv::Mat mask(g.size(), CV_8UC1, cv::Scalar(0));
  for (int by = 0; by < bh; ++by)
    for (int bx = 0; bx < bw; ++bx) {
      const Block& b = blocks[std::size_t(by) * bw + bx];
      if (b.spread <= spread_limit && b.energy <= energy_limit && b.mean >= 6 && b.mean <= 249)
        mask(cv::Rect(bx * kB, by * kB, kB, kB)).setTo(255);
    }
  return mask;
}

double flat_area_noise(const cv::Mat& image, const cv::Mat& mask) {
  if (image.empty() || image.depth() != CV_8U) throw_invalid("flat_area_noise: expected an 8-bit image");
  if (mask.size() != image.size() || mask.type() != CV_8UC1)
    throw_invalid("flat_area_noise: the mask must be CV_8UC1 of the image's size");
  if (cv::countNonZero(mask) == 0) throw_invalid("flat_area_noise: the mask is empty (no flat area)");
  cv::Mat f, blur;
  image.convertTo(f, CV_32F);
  cv::GaussianBlur(f, blur, cv::Size(), 1.5, 1.5, cv::BORDER_REFLECT101);
  cv::Scalar mean, sd;
  cv::meanStdDev(f - blur, mean, sd, mask);
  double sum = 0;
  for (int c = 0; c < image.channels(); ++c) sum += sd[c];
  return sum / image.channels();
}

double detail_correlation(const cv::Mat& image, const cv::Mat& guide, const cv::Mat& mask) {
  const cv::Mat a = band_pass(luminance8(image, "detail_correlation")), b = band_pass(luminance8(guide, "detail_correlation"));
  if (a.size() != b.size()) throw_invalid("detail_correlation: the image and the guide differ in size");
  if (!mask.empty() && (mask.size() != a.size() || mask.type() != CV_8UC1))
    throw_invalid("detail_correlation: the mask must be CV_8UC1 of the image's size");
  double sa = 0, sb = 0, saa = 0, sbb = 0, sab = 0, n = 0;
  for (int y = 0; y < a.rows; ++y) {
    const float* pa = a.ptr<float>(y);
    const float* pb = b.ptr<float>(y);
    const std::uint8_t* m = mask.empty() ? nullptr : mask.ptr<std::uint8_t>(y);
    for (int x = 0; x < a.cols; ++x) {
      if (m && !m[x]) continue;
      sa += pa[x], sb += pb[x], saa += double(pa[x]) * pa[x], sbb += double(pb[x]) * pb[x], sab += double(pa[x]) * pb[x];
      n += 1;
    }
  }
  if (n < 2) throw_invalid("detail_correlation: the mask is empty");
  const double va = saa - sa * sa / n, vb = sbb - sb * sb / n;
  if (!(va > 0 && vb > 0)) return 0;
  return (sab - sa * sb / n) / std::sqrt(va * vb);
}

}  // namespace dualcam
