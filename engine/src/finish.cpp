#include "dualcam/engine/finish.hpp"

#include <algorithm>
#include <array>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam {

const char* to_string(Demosaic d) {
  switch (d) {
    case Demosaic::Bilinear: return "bilinear";
    case Demosaic::EdgeAware: return "ea";
    case Demosaic::Mhc: return "mhc";
  }
  return "mhc";
}

Demosaic parse_demosaic(const std::string& text) {
  if (text == "bilinear") return Demosaic::Bilinear;
  if (text == "ea" || text == "edge-aware") return Demosaic::EdgeAware;
  if (text == "mhc" || text == "malvar") return Demosaic::Mhc;
  throw_invalid("the demosaic must be 'mhc', 'ea' or 'bilinear', got '" + text + "'");
}

const char* to_string(ToneCurve t) { return t == ToneCurve::Filmic ? "filmic" : "none"; }

ToneCurve parse_tone_curve(const std::string& text) {
  if (text == "none") return ToneCurve::None;
  if (text == "filmic") return ToneCurve::Filmic;
  throw_invalid("the tone curve must be 'none' or 'filmic', got '" + text + "'");
}

void FinishOptions::validate() const {
  check_range("FinishOptions::exposure (--exposure)", exposure, 1e-3, 1e3);
  if (bits != 8 && bits != 16) throw_invalid("the output bits (--bits) must be 8 or 16, got " + std::to_string(bits));
}

namespace {

// OpenCV names a Bayer pattern by the second row's first two sites: an RGGB sensor is "BayerBG".
int opencv_code(CfaPattern p, Demosaic d) {
  const bool ea = d == Demosaic::EdgeAware;
  switch (p) {
    case CfaPattern::Rggb: return ea ? cv::COLOR_BayerBG2BGR_EA : cv::COLOR_BayerBG2BGR;
    case CfaPattern::Bggr: return ea ? cv::COLOR_BayerRG2BGR_EA : cv::COLOR_BayerRG2BGR;
    case CfaPattern::Grbg: return ea ? cv::COLOR_BayerGB2BGR_EA : cv::COLOR_BayerGB2BGR;
    case CfaPattern::Gbrg: return ea ? cv::COLOR_BayerGR2BGR_EA : cv::COLOR_BayerGR2BGR;
    case CfaPattern::None: break;
  }
  throw_invalid("demosaic: the frame has no Bayer pattern");
}

// OpenCV's conversions take 16-bit samples: the linear frame from -kBelow to 1 + kBelow mapped
// onto them, so that the noise below black (a dark frame's samples scatter about it) is kept, as
// raw_linear keeps it; both conversions interpolate, which commutes with the offset.
cv::Mat demosaic_opencv(const cv::Mat& cfa, CfaPattern p, Demosaic d) {
  constexpr double kBelow = 0.25, kSpan = 1.0 + 2 * kBelow;
  cv::Mat u16, bgr16, out;
  cfa.convertTo(u16, CV_16U, 65535.0 / kSpan, 65535.0 * kBelow / kSpan);
  cv::cvtColor(u16, bgr16, opencv_code(p, d));
  bgr16.convertTo(out, CV_32F, kSpan / 65535.0, -kBelow);
  return out;
}

// Malvar-He-Cutler: four 5x5 kernels (in eighths), applied to the whole mosaic, then picked per site.
cv::Mat demosaic_mhc(const cv::Mat& cfa, CfaPattern p) {
  const float kG[25] = {0, 0, -1, 0, 0, 0, 0, 2, 0, 0, -1, 2, 4, 2, -1, 0, 0, 2, 0, 0, 0, 0, -1, 0, 0};
  // The colour missing at a green site whose row holds it (left and right neighbours).
  const float kRow[25] = {0, 0, 0.5f, 0, 0, 0, -1, 0, -1, 0, -1, 4, 5, 4, -1, 0, -1, 0, -1, 0, 0, 0, 0.5f, 0, 0};
  // ... whose column holds it (above and below).
  const float kCol[25] = {0, 0, -1, 0, 0, 0, -1, 4, -1, 0, 0.5f, 0, 5, 0, 0.5f, 0, -1, 4, -1, 0, 0, 0, -1, 0, 0};
  // Red at a blue site and blue at a red one (the diagonal neighbours).
  const float kDiag[25] = {0, 0, -1.5f, 0, 0, 0, 2, 0, 2, 0, -1.5f, 0, 6, 0, -1.5f, 0, 2, 0, 2, 0, 0, 0, -1.5f, 0, 0};
  std::array<cv::Mat, 4> f;
  const float* kernels[4] = {kG, kRow, kCol, kDiag};
  for (int k = 0; k < 4; ++k) {
    cv::Mat kernel(5, 5, CV_32F, const_cast<float*>(kernels[k]));
    cv::filter2D(cfa, f[k], CV_32F, kernel / 8.0, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
  }
  cv::Mat out(cfa.size(), CV_32FC3);
  parallel_rows(cfa.rows, 16, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const float* raw = cfa.ptr<float>(y);
      const float* g = f[0].ptr<float>(y);
      const float* row = f[1].ptr<float>(y);
      const float* col = f[2].ptr<float>(y);
      const float* diag = f[3].ptr<float>(y);
      cv::Vec3f* o = out.ptr<cv::Vec3f>(y);
      for (int x = 0; x < cfa.cols; ++x) {
        const int c = cfa_channel(p, y, x);
        cv::Vec3f v;
        if (c == 1) {
          // The colour of the horizontal neighbours comes from kRow, the other from kCol.
          const int horizontal = cfa_channel(p, y, x + 1);
          v[1] = raw[x];
          v[horizontal] = row[x];
          v[2 - horizontal] = col[x];
        } else {
          v[c] = raw[x];
          v[1] = g[x];
          v[2 - c] = diag[x];
        }
        o[x] = v;
      }
    }
  });
  return out;
}

}  // namespace

cv::Mat demosaic(const cv::Mat& cfa, CfaPattern p, Demosaic method) {
  if (cfa.type() != CV_32FC1) throw_invalid("demosaic: expects a CV_32FC1 mosaic");
  if (p == CfaPattern::None) throw_invalid("demosaic: the frame has no Bayer pattern");
  // Odd sizes are fine (the pattern is named at the top-left corner); files of them are refused by
  // read_raw, as sensors deliver whole 2x2 tiles, but the simulator's frames of odd-sized scenes are not.
  if (cfa.cols < 4 || cfa.rows < 4) throw_invalid("demosaic: a mosaic must be at least 4x4");
  return method == Demosaic::Mhc ? demosaic_mhc(cfa, p) : demosaic_opencv(cfa, p, method);
}

cv::Mat develop_linear(const RawFrame& frame, const FinishOptions& o) {
  o.validate();
  cv::Mat linear = raw_linear(frame);
  if (frame.mono()) return linear;
  cv::Mat bgr = demosaic(linear, frame.cfa, o.demosaic);
  const cv::Vec3d wb = o.white_balance ? frame.white_balance : cv::Vec3d(1, 1, 1);
  const cv::Matx33f m = o.color_matrix ? cv::Matx33f(frame.camera_to_srgb) : cv::Matx33f::eye();
  parallel_rows(bgr.rows, 16, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      cv::Vec3f* p = bgr.ptr<cv::Vec3f>(y);
      for (int x = 0; x < bgr.cols; ++x) {
        // Clipped at the sensor's white after the gains, as dcraw's default highlight mode does:
        // a clipped highlight stays white instead of turning magenta.
        cv::Vec3f v;
        for (int c = 0; c < 3; ++c) v[c] = std::min(1.0f, float(p[x][c] * wb[c]));
        p[x] = m * v;
      }
    }
  });
  return bgr;
}

cv::Mat finish_image(const cv::Mat& linear, const FinishOptions& o) {
  o.validate();
  if (linear.depth() != CV_32F || (linear.channels() != 1 && linear.channels() != 3))
    throw_invalid("finish_image: expects a CV_32FC1 or CV_32FC3 linear image");
  cv::Mat v;
  linear.convertTo(v, CV_32F, o.exposure);
  if (o.tone == ToneCurve::Filmic) {
    // Extended Reinhard with its white at the exposed sensor white: x (1 + x / w^2) / (1 + x),
    // so 0 -> 0 and w -> 1 (the identity when w = 1): what the exposure lifted above the sensor's
    // white is rolled off smoothly instead of clipped.
    const float w = float(std::max(1.0, o.exposure)), w2 = w * w;
    cv::Mat flat = v.reshape(1);
    flat.forEach<float>([&](float& x, const int*) {
      const float t = std::max(0.0f, x);
      x = std::min(1.0f, t * (1.0f + t / w2) / (1.0f + t));
    });
  }
  return to_srgb(v, o.bits == 16 ? CV_16U : CV_8U);
}

}  // namespace dualcam
