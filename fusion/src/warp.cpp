#include "dualcam/fusion/warp.hpp"

#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/srgb_tables.hpp"

namespace dualcam::fusion {

namespace {

// One row of out(x) = src(x + sign * d(x)), linear along the row (the rows of a rectified pair
// correspond). Positions are rounded to 1/32 px and weighted as cv::remap's INTER_LINEAR does,
// outside the source counts as 0.
template <int C>
void warp_row(const float* src, int cols, const float* d, int sign, float* out, std::uint8_t* valid) {
  constexpr int kBits = 5, kScale = 1 << kBits;
  for (int c = 0; c < cols; ++c) {
    const float x = c + sign * d[c];
    const bool ok = std::isfinite(d[c]) && x >= 0 && x <= cols - 1;
    valid[c] = ok ? 255 : 0;
    float* o = out + static_cast<std::size_t>(c) * C;
    if (!ok) {
      for (int k = 0; k < C; ++k) o[k] = 0.0f;
      continue;
    }
    const int q = static_cast<int>(std::lrint(x * kScale));  // as cvRound
    const int x0 = q >> kBits;
    const float w1 = float(q & (kScale - 1)) * (1.0f / kScale), w0 = 1.0f - w1;
    const float* a = src + static_cast<std::size_t>(x0) * C;
    if (x0 + 1 < cols) {
      for (int k = 0; k < C; ++k) o[k] = a[k] * w0 + a[C + k] * w1;
    } else {
      for (int k = 0; k < C; ++k) o[k] = a[k] * w0;
    }
  }
}

}  // namespace

cv::Mat warp_by_disparity(const cv::Mat& src, const cv::Mat& disparity, int sign, cv::Mat* valid) {
  if (disparity.type() != CV_32F || disparity.size() != src.size())
    throw_invalid("warp_by_disparity: disparity must be CV_32F of the source's size");
  if (sign != 1 && sign != -1) throw_invalid("warp_by_disparity: sign must be +1 or -1");
  if (src.depth() != CV_32F || (src.channels() != 1 && src.channels() != 3))
    throw_invalid("warp_by_disparity: the source must be CV_32FC1 or CV_32FC3");
  cv::Mat out(src.size(), src.type()), v(src.size(), CV_8U);
  parallel_rows(src.rows, 16, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
      if (src.channels() == 1)
        warp_row<1>(src.ptr<float>(r), src.cols, disparity.ptr<float>(r), sign, out.ptr<float>(r), v.ptr<std::uint8_t>(r));
      else
        warp_row<3>(src.ptr<float>(r), src.cols, disparity.ptr<float>(r), sign, out.ptr<float>(r), v.ptr<std::uint8_t>(r));
    }
  });
  if (valid) *valid = v;
  return out;
}

cv::Mat warp_encoded_by_disparity(const cv::Mat& src, const cv::Mat& disparity, int sign, cv::Mat* valid) {
  if (disparity.type() != CV_32F || disparity.size() != src.size())
    throw_invalid("warp_encoded_by_disparity: disparity must be CV_32F of the source's size");
  if (sign != 1 && sign != -1) throw_invalid("warp_encoded_by_disparity: sign must be +1 or -1");
  if ((src.depth() != CV_8U && src.depth() != CV_16U) || (src.channels() != 1 && src.channels() != 3))
    throw_invalid("warp_encoded_by_disparity: the source must be 8- or 16-bit with 1 or 3 channels");
  const int C = src.channels(), n = src.cols * C;
  cv::Mat out(src.size(), CV_MAKETYPE(CV_32F, C)), v(src.size(), CV_8U);
  const float* lut8 = srgb_tables::linear_lut8().data();
  const float* lut16 = src.depth() == CV_16U ? srgb_tables::linear_lut16().data() : nullptr;
  parallel_rows(src.rows, 16, [&](int r0, int r1) {
    std::vector<float> lin(static_cast<std::size_t>(n));
    for (int r = r0; r < r1; ++r) {
      if (lut16) {
        const std::uint16_t* s = src.ptr<std::uint16_t>(r);
        for (int i = 0; i < n; ++i) lin[i] = lut16[s[i]];
      } else {
        const std::uint8_t* s = src.ptr<std::uint8_t>(r);
        for (int i = 0; i < n; ++i) lin[i] = lut8[s[i]];
      }
      if (C == 1)
        warp_row<1>(lin.data(), src.cols, disparity.ptr<float>(r), sign, out.ptr<float>(r), v.ptr<std::uint8_t>(r));
      else
        warp_row<3>(lin.data(), src.cols, disparity.ptr<float>(r), sign, out.ptr<float>(r), v.ptr<std::uint8_t>(r));
    }
  });
  if (valid) *valid = v;
  return out;
}

namespace {

// src (the other camera's linear image) -> the reference camera's grid, a band of rows at a time:
// for every reference pixel its canonical coordinates (dst_inv) and disparity, the shift along
// the canonical row, the other camera's pixel there (the forward map, bilinear), one bilinear
// fetch of the image. Where a band's canonical rows are few (a horizontal rig turned by a few
// degrees), the forward map is made at every pixel of those rows and cv::remap'ed at the shifted
// positions; else (a vertical rig: the canonical frame is transposed) evaluated point by point
// (Rectifier::Maps::at), which costs more per pixel than the band's rows.
cv::Mat warp_composed(const cv::Mat& src, const Rectifier::Maps& src_fwd, const cv::Size& src_size,
                      const Rectifier::Maps& dst_inv, const cv::Size& canon, const cv::Mat& disparity, float sign,
                      cv::Mat* valid) {
  if (disparity.type() != CV_32F || disparity.size() != canon)
    throw_invalid("warp_through_rig: the disparity must be CV_32F of the canonical size");
  constexpr int kBand = 64;
  const cv::Size out_size = dst_inv.size();
  cv::Mat out(out_size, src.type()), v(out_size, CV_8U);
  const int bands = (out_size.height + kBand - 1) / kBand;
  parallel_rows(bands, 1, [&](int b0, int b1) {
    for (int b = b0; b < b1; ++b) {
      const int r0 = b * kBand, r1 = std::min(out_size.height, r0 + kBand);
      cv::Mat ux, uy, d;
      dst_inv.rows(r0, r1, ux, uy);
      cv::remap(disparity, d, ux, uy, cv::INTER_NEAREST, cv::BORDER_CONSTANT,
                cv::Scalar::all(std::numeric_limits<double>::quiet_NaN()));
      cv::Mat cx = ux + sign * d;
      // The canonical rows the band's positions fall in, with a row of margin either side.
      double lo = 0, hi = 0;
      cv::minMaxLoc(uy, &lo, &hi);
      const int c0 = std::max(0, int(std::floor(lo)) - 1), c1 = std::min(canon.height, int(std::ceil(hi)) + 2);
      cv::Mat sx, sy;
      if (c1 > c0 && c1 - c0 <= 4 * kBand) {
        cv::Mat fx, fy;
        src_fwd.rows(c0, c1, fx, fy);
        const cv::Mat cy = uy - double(c0);
        cv::remap(fx, sx, cx, cy, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
        cv::remap(fy, sy, cx, cy, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar(-1));
      } else {
        sx.create(d.size(), CV_32F);
        sy.create(d.size(), CV_32F);
        for (int r = 0; r < d.rows; ++r)
          for (int c = 0; c < d.cols; ++c) {
            const float x = cx.at<float>(r, c), y = uy.at<float>(r, c);
            // Only inside the canonical frame (the check below needs no more).
            const bool inside = std::isfinite(x) && x >= 0 && x <= canon.width - 1 && y >= 0 && y <= canon.height - 1;
            const cv::Point2f p = inside ? src_fwd.at(x, y) : cv::Point2f(-1, -1);
            sx.at<float>(r, c) = p.x;
            sy.at<float>(r, c) = p.y;
          }
      }
      for (int r = 0; r < d.rows; ++r) {
        const float* pd = d.ptr<float>(r);
        const float* pcx = cx.ptr<float>(r);
        const float* py = uy.ptr<float>(r);
        float* px = sx.ptr<float>(r);
        float* pys = sy.ptr<float>(r);
        std::uint8_t* pv = v.ptr<std::uint8_t>(r0 + r);
        for (int c = 0; c < d.cols; ++c) {
          const bool ok = std::isfinite(pd[c]) && pcx[c] >= 0 && pcx[c] <= canon.width - 1 && py[c] >= 0 &&
                          py[c] <= canon.height - 1 && px[c] >= 0 && pys[c] >= 0 && px[c] <= src_size.width - 1 &&
                          pys[c] <= src_size.height - 1;
          pv[c] = ok ? 255 : 0;
          if (!ok) px[c] = pys[c] = -1;
        }
      }
      cv::Mat band = out.rowRange(r0, r1);
      cv::remap(src, band, sx, sy, cv::INTER_LINEAR, cv::BORDER_CONSTANT, cv::Scalar::all(0));
    }
  });
  if (valid) *valid = v;
  return out;
}

}  // namespace

cv::Mat warp_through_rig(const cv::Mat& other, const Rectifier& rect, const cv::Mat& disparity, Reference reference,
                         cv::Mat* valid) {
  const cv::Size canon = rect.canonical_size();
  if (reference == Reference::Color) {
    if (other.size() != rect.mono_size()) throw_invalid("warp_through_rig: the mono image's size does not match the rig");
    // A right (colour) pixel x matches the left (mono) pixel x + d.
    return warp_composed(other, rect.mono_from_canonical(), rect.mono_size(), rect.canonical_from_color(), canon,
                         disparity, +1.0f, valid);
  }
  if (other.size() != rect.color_size()) throw_invalid("warp_through_rig: the colour image's size does not match the rig");
  return warp_composed(other, rect.color_from_canonical(), rect.color_size(), rect.canonical_from_mono(), canon,
                       disparity, -1.0f, valid);
}

cv::Mat warp_to_reference(const cv::Mat& other, const Rectifier* rectifier, const cv::Mat& canonical_disparity,
                          Reference reference, cv::Mat* valid) {
  const int sign = reference == Reference::Color ? +1 : -1;
  const bool linear = other.depth() == CV_32F;
  if (!rectifier)
    return linear ? warp_by_disparity(other, canonical_disparity, sign, valid)
                  : warp_encoded_by_disparity(other, canonical_disparity, sign, valid);
  cv::Mat warped = warp_through_rig(linear ? other : to_linear(other), *rectifier, canonical_disparity, reference, valid);
  cv::patchNaNs(warped, 0.0);
  return warped;
}

}  // namespace dualcam::fusion
