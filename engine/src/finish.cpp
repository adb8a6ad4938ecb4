#include "dualcam/engine/finish.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

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
    case Demosaic::Rcd: return "rcd";
    case Demosaic::Ri: return "ri";
  }
  return "mhc";
}

Demosaic parse_demosaic(const std::string& text) {
  if (text == "bilinear") return Demosaic::Bilinear;
  if (text == "ea" || text == "edge-aware") return Demosaic::EdgeAware;
  if (text == "mhc" || text == "malvar") return Demosaic::Mhc;
  if (text == "rcd") return Demosaic::Rcd;
  if (text == "ri") return Demosaic::Ri;
  throw_invalid("the demosaic must be 'ri', 'rcd', 'mhc', 'ea' or 'bilinear', got '" + text + "'");
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

// Ratio-corrected directional demosaic, after L. Sanz Rodríguez, "Ratio Corrected Demosaicing"
// (RCD, 2017), in this file's own formulation: green at the red and blue sites from its four
// neighbours, each corrected by the ratio of a local low-pass at the site and at the next site
// of the same colour that way (the site's channel carries the detail the neighbour lacks), the
// two estimates of an axis weighted by their gradients, the axes blended by how much more the
// image varies along one than along the other (smoothed; the site's or its neighbours' decision,
// whichever is firmer); then red at the blue sites and blue at the red ones from the diagonal
// colour differences, blended the same way along the two diagonals; then both at the green sites
// from the vertical and horizontal colour differences. On float samples, borders mirrored
// (reflect-101 with an even margin, which keeps the pattern).
//
// RcdPlanes holds the padded mosaic and the planes the steps share; rcd_green() runs steps 1 and 2
// (what the `ri` method takes from this one), rcd_red_blue() steps 3 and 4. The steps fill all but
// the outer 2, 3, 4, 6 and 8 rows and columns of the padded mosaic, and each reads at most 4
// beyond what it fills; the last step reads the third row out of what step 3 filled, so the
// margin is 10, not 8 (with 8, the frame's first and last row and column read values no step had
// filled). rcd_strips() runs the steps on strips of rows with that margin of the mosaic above and
// below, one strip per task: the same result as one pass over the whole frame, with planes of a
// strip's size (at 12 MP 17 MB a strip, reused from strip to strip, against 400 MB of
// full-size planes faulted in).
constexpr int kRcdPad = 10;
constexpr int kRcdStrip = 128;  // rows a strip fills (even: a strip starts on the pattern's phase)
constexpr float kRcdEps = 1e-5f;

struct RcdPlanes {
  cv::Mat P;                 // the mosaic (a strip of it), padded by kRcdPad on every side
  cv::Mat G;                 // green everywhere (padded)
  cv::Mat vh, pq;            // each site's share of the vertical and of the first diagonal
  cv::Mat spare[2];          // planes the green steps are done with, for the red and blue ones
  cv::Rect inside() const { return {kRcdPad, kRcdPad, P.cols - 2 * kRcdPad, P.rows - 2 * kRcdPad}; }
};

// What both halves of rcd index with: the pattern's 2x2 tile (kRcdPad and a strip's first row are
// even, so a strip keeps the frame's phase), and an element of the continuous planes of one strip,
// all of one size, by offset without a row lookup.
struct RcdGrid {
  int tile[4];
  int stride;
  RcdGrid(CfaPattern p, int width)
      : tile{cfa_channel(p, 0, 0), cfa_channel(p, 0, 1), cfa_channel(p, 1, 0), cfa_channel(p, 1, 1)}, stride(width) {}
  int channel(int y, int x) const { return tile[(y & 1) * 2 + (x & 1)]; }
  float& at(const cv::Mat& m, int y, int x) const { return reinterpret_cast<float*>(m.data)[y * stride + x]; }
};

// The firmer of a site's decision and its diagonal neighbours' mean.
float firmer(const cv::Mat& d, int y, int x) {
  const float* r = d.ptr<float>(y);
  const float *up = d.ptr<float>(y - 1), *down = d.ptr<float>(y + 1);
  const float c = r[x];
  const float n = 0.25f * (up[x - 1] + up[x + 1] + down[x - 1] + down[x + 1]);
  return std::abs(0.5f - c) < std::abs(0.5f - n) ? n : c;
}

// `padded`: rows of the mosaic padded by kRcdPad (reflect-101 at the frame's edges), starting on
// an even row of the padded frame; continuous.
RcdPlanes rcd_green(const cv::Mat& padded, CfaPattern pattern) {
  constexpr float kEps = kRcdEps, kEps2 = 1e-10f;
  RcdPlanes out;
  out.P = padded;
  const cv::Mat& P = out.P;
  CV_Assert(P.isContinuous());
  const int H = P.rows, W = P.cols;
  const RcdGrid grid(pattern, W);
  auto channel = [&](int y, int x) { return grid.channel(y, x); };
  auto at = [&](const cv::Mat& m, int y, int x) -> float& { return grid.at(m, y, x); };
  // Each plane is written where a later step reads it (the margins shrink step by step: each
  // step's reads stay inside the rows and columns the step before wrote), so none is cleared.
  cv::Mat lpf(H, W, CV_32F), vh(H, W, CV_32F), pq(H, W, CV_32F), dv(H, W, CV_32F), dh(H, W, CV_32F),
      dp(H, W, CV_32F), dq(H, W, CV_32F);
  // A row of a Bayer pattern alternates green with one other colour, so the steps that fill one
  // kind of site step over the other.
  // Step 1: each direction's variation (a Hamilton-Adams classifier per pixel), squared, summed
  // over 3x3, and the share of the vertical: 1 = varies only vertically (interpolate along rows).
  parallel_rows(H - 4, 32, [&](int r0, int r1) {
    for (int y = r0 + 2; y < r1 + 2; ++y)
      for (int x = 2; x < W - 2; ++x) {
        const float c = at(P, y, x);
        const float v = std::abs(at(P, y - 1, x) - at(P, y + 1, x)) + std::abs(2 * c - at(P, y - 2, x) - at(P, y + 2, x));
        const float h = std::abs(at(P, y, x - 1) - at(P, y, x + 1)) + std::abs(2 * c - at(P, y, x - 2) - at(P, y, x + 2));
        const float p = std::abs(at(P, y - 1, x - 1) - at(P, y + 1, x + 1)) +
                        std::abs(2 * c - at(P, y - 2, x - 2) - at(P, y + 2, x + 2));
        const float q = std::abs(at(P, y - 1, x + 1) - at(P, y + 1, x - 1)) +
                        std::abs(2 * c - at(P, y - 2, x + 2) - at(P, y + 2, x - 2));
        at(dv, y, x) = v * v, at(dh, y, x) = h * h, at(dp, y, x) = p * p, at(dq, y, x) = q * q;
        at(lpf, y, x) = 0.25f * c +
                        0.125f * (at(P, y - 1, x) + at(P, y + 1, x) + at(P, y, x - 1) + at(P, y, x + 1)) +
                        0.0625f * (at(P, y - 1, x - 1) + at(P, y - 1, x + 1) + at(P, y + 1, x - 1) + at(P, y + 1, x + 1));
      }
  });
  // Sums over 3x3 (down the columns into a row, then along it), then the shares, on every core
  // (OpenCV's box filter ran on one).
  parallel_rows(H - 6, 32, [&](int r0, int r1) {
    std::vector<float> cols[4];
    for (auto& c : cols) c.resize(static_cast<std::size_t>(W));
    cv::Mat* planes[4] = {&dv, &dh, &dp, &dq};
    std::vector<float> sums[4];
    for (auto& c : sums) c.resize(static_cast<std::size_t>(W));
    for (int y = r0 + 3; y < r1 + 3; ++y) {
      for (int k = 0; k < 4; ++k) {
        const float *a = planes[k]->ptr<float>(y - 1), *b = planes[k]->ptr<float>(y), *c = planes[k]->ptr<float>(y + 1);
        float* col = cols[k].data();
        for (int x = 2; x < W - 2; ++x) col[x] = a[x] + b[x] + c[x];
        float* sum = sums[k].data();
        for (int x = 3; x < W - 3; ++x) sum[x] = col[x - 1] + col[x] + col[x + 1];
      }
      const float *v = sums[0].data(), *h = sums[1].data(), *p = sums[2].data(), *q = sums[3].data();
      float *o = vh.ptr<float>(y), *d = pq.ptr<float>(y);
      for (int x = 3; x < W - 3; ++x) {
        o[x] = (v[x] + kEps2) / (v[x] + h[x] + 2 * kEps2);
        d[x] = (p[x] + kEps2) / (p[x] + q[x] + 2 * kEps2);
      }
    }
  });
  // The ratio that carries the site's detail onto a neighbour's estimate (1 where the low-pass is
  // not positive: a dark frame's noise about black).
  auto ratio = [&](int y, int x, int y2, int x2) {
    const float a = at(lpf, y, x), b = at(lpf, y2, x2);
    return a > kEps && b > kEps ? 2 * a / (a + b) : 1.0f;
  };
  // Step 2: green everywhere. The variations are spent: their planes hold green, blue and red
  // (memory reused rather than fresh: a fresh 12 MP plane costs its page faults).
  cv::Mat& G = dv;
  P.copyTo(G);
  parallel_rows(H - 8, 32, [&](int r0, int r1) {
    for (int y = r0 + 4; y < r1 + 4; ++y)
      for (int x = 4 + (channel(y, 4) == 1); x < W - 4; x += 2) {
        const float c = at(P, y, x);
        const float gn = kEps + std::abs(at(P, y - 1, x) - at(P, y + 1, x)) + std::abs(c - at(P, y - 2, x)) +
                         std::abs(at(P, y - 1, x) - at(P, y - 3, x)) + std::abs(at(P, y - 2, x) - at(P, y - 4, x));
        const float gs = kEps + std::abs(at(P, y + 1, x) - at(P, y - 1, x)) + std::abs(c - at(P, y + 2, x)) +
                         std::abs(at(P, y + 1, x) - at(P, y + 3, x)) + std::abs(at(P, y + 2, x) - at(P, y + 4, x));
        const float gw = kEps + std::abs(at(P, y, x - 1) - at(P, y, x + 1)) + std::abs(c - at(P, y, x - 2)) +
                         std::abs(at(P, y, x - 1) - at(P, y, x - 3)) + std::abs(at(P, y, x - 2) - at(P, y, x - 4));
        const float ge = kEps + std::abs(at(P, y, x + 1) - at(P, y, x - 1)) + std::abs(c - at(P, y, x + 2)) +
                         std::abs(at(P, y, x + 1) - at(P, y, x + 3)) + std::abs(at(P, y, x + 2) - at(P, y, x + 4));
        const float en = at(P, y - 1, x) * ratio(y, x, y - 2, x), es = at(P, y + 1, x) * ratio(y, x, y + 2, x);
        const float ew = at(P, y, x - 1) * ratio(y, x, y, x - 2), ee = at(P, y, x + 1) * ratio(y, x, y, x + 2);
        const float v = (gs * en + gn * es) / (gn + gs), h = (ge * ew + gw * ee) / (gw + ge);
        const float d = firmer(vh, y, x);
        at(G, y, x) = v * (1 - d) + h * d;
      }
  });
  out.G = G;
  out.vh = vh;
  out.pq = pq;
  out.spare[0] = dh;
  out.spare[1] = dp;
  return out;
}

// Steps 3 and 4 of rcd after rcd_green: blue and red in planes.spare[0] and [1] (inside()).
void rcd_red_blue(RcdPlanes& planes, CfaPattern pattern) {
  constexpr float kEps = kRcdEps;
  const cv::Mat& P = planes.P;
  const cv::Mat& G = planes.G;
  const cv::Mat &vh = planes.vh, &pq = planes.pq;
  const int H = P.rows, W = P.cols;
  const RcdGrid grid(pattern, W);
  auto channel = [&](int y, int x) { return grid.channel(y, x); };
  auto at = [&](const cv::Mat& m, int y, int x) -> float& { return grid.at(m, y, x); };
  // Step 3: red at blue sites and blue at red ones, from the diagonal colour differences.
  cv::Mat &dh = planes.spare[0], &dp = planes.spare[1];
  P.copyTo(dh);
  P.copyTo(dp);
  cv::Mat C[3] = {dh, G, dp};  // B, G, R; the native samples where they are
  parallel_rows(H - 12, 32, [&](int r0, int r1) {
    for (int y = r0 + 6; y < r1 + 6; ++y)
      for (int x = 6 + (channel(y, 6) == 1); x < W - 6; x += 2) {
        const int c = channel(y, x);
        const int m = 2 - c;  // the other of red and blue, at the four diagonal neighbours
        auto diff = [&](int yy, int xx) { return at(P, yy, xx) - at(G, yy, xx); };
        auto grad = [&](int sy, int sx) {
          return kEps + std::abs(at(P, y + sy, x + sx) - at(P, y - sy, x - sx)) +
                 std::abs(at(P, y + sy, x + sx) - at(P, y + 3 * sy, x + 3 * sx)) +
                 std::abs(at(G, y, x) - at(G, y + 2 * sy, x + 2 * sx));
        };
        const float gnw = grad(-1, -1), gse = grad(1, 1), gne = grad(-1, 1), gsw = grad(1, -1);
        const float pe = (gse * diff(y - 1, x - 1) + gnw * diff(y + 1, x + 1)) / (gnw + gse);
        const float qe = (gsw * diff(y - 1, x + 1) + gne * diff(y + 1, x - 1)) / (gne + gsw);
        const float d = firmer(pq, y, x);
        at(C[m], y, x) = at(G, y, x) + pe * (1 - d) + qe * d;
        at(C[c], y, x) = at(P, y, x);
      }
  });
  // Step 4: red and blue at the green sites, from the vertical and horizontal colour differences.
  parallel_rows(H - 16, 32, [&](int r0, int r1) {
    for (int y = r0 + 8; y < r1 + 8; ++y)
      for (int x = 8 + (channel(y, 8) != 1); x < W - 8; x += 2) {
        const float g = at(G, y, x);
        const float d = firmer(vh, y, x);
        for (int m : {0, 2}) {
          cv::Mat& M = C[m];
          auto diff = [&](int yy, int xx) { return at(M, yy, xx) - at(G, yy, xx); };
          auto grad = [&](int sy, int sx) {
            return kEps + std::abs(at(G, y, x) - at(G, y + 2 * sy, x + 2 * sx)) +
                   std::abs(at(M, y + sy, x + sx) - at(M, y - sy, x - sx)) +
                   std::abs(at(M, y + sy, x + sx) - at(M, y + 3 * sy, x + 3 * sx));
          };
          const float gn = grad(-1, 0), gs = grad(1, 0), gw = grad(0, -1), ge = grad(0, 1);
          const float v = (gs * diff(y - 1, x) + gn * diff(y + 1, x)) / (gn + gs);
          const float h = (ge * diff(y, x - 1) + gw * diff(y, x + 1)) / (gw + ge);
          at(M, y, x) = g + v * (1 - d) + h * d;
        }
      }
  });
}

// rcd_green on strips of the mosaic, each strip's planes handed to `strip(planes, first row,
// rows)` (the frame's rows the strip fills: planes.inside()), strips on every core.
template <typename Strip>
void rcd_strips(const cv::Mat& cfa, CfaPattern pattern, Strip&& strip) {
  cv::Mat P;
  cv::copyMakeBorder(cfa, P, kRcdPad, kRcdPad, kRcdPad, kRcdPad, cv::BORDER_REFLECT_101);
  const int strips = (cfa.rows + kRcdStrip - 1) / kRcdStrip;
  parallel_rows(strips, 1, [&](int s0, int s1) {
    for (int s = s0; s < s1; ++s) {
      const int y0 = s * kRcdStrip, rows = std::min(kRcdStrip, cfa.rows - y0);
      RcdPlanes planes = rcd_green(P.rowRange(y0, y0 + rows + 2 * kRcdPad), pattern);
      strip(planes, y0, rows);
    }
  });
}

// Copies a strip's inside rows of B, G and R planes into rows y0.. of the CV_32FC3 `out`.
void put_strip(const cv::Mat& b, const cv::Mat& g, const cv::Mat& r, int y0, int rows, cv::Mat& out) {
  for (int y = 0; y < rows; ++y) {
    const float *pb = b.ptr<float>(kRcdPad + y) + kRcdPad, *pg = g.ptr<float>(kRcdPad + y) + kRcdPad,
                *pr = r.ptr<float>(kRcdPad + y) + kRcdPad;
    cv::Vec3f* o = out.ptr<cv::Vec3f>(y0 + y);
    for (int x = 0; x < out.cols; ++x) o[x] = cv::Vec3f(pb[x], pg[x], pr[x]);
  }
}

cv::Mat demosaic_rcd(const cv::Mat& cfa, CfaPattern pattern) {
  cv::Mat out(cfa.size(), CV_32FC3);
  rcd_strips(cfa, pattern, [&](RcdPlanes& planes, int y0, int rows) {
    rcd_red_blue(planes, pattern);
    put_strip(planes.spare[0], planes.G, planes.spare[1], y0, rows, out);
  });
  return out;
}

// Red or blue (the colour of the lattice whose first site is (oy, ox)) everywhere, by residual
// interpolation on green: the colour modelled in a small window as a * G + b, the residual
// interpolated bilinearly from the colour's own sites and added back. With the residual and the
// model's b both interpolated from the same sites, b cancels, and the result is
//     C = up(A) * G + up(Cs - A * Gs)
// where Cs and Gs are the colour and green at the lattice's sites, A the fitted a smoothed over the
// window (as a guided filter does) and up() the bilinear interpolation from the lattice: the
// bilinear colour plus A times the detail green has between the colour's sites. a is fitted as
// Kiku et al.'s minimised-Laplacian residual interpolation fits it ("Minimized-Laplacian residual
// interpolation for color image demosaicking", 2014): by least squares between the lattice
// Laplacians of the colour and of green, which keeps the fit off the window's mean level. kEps
// pulls a toward 0 (the bilinear colour) where green's Laplacian is weak next to it: a flat area's
// noise is then not carried over from green. The native samples stay as they are. `bgr` (CV_32FC3)
// holds green in channel 1; the colour is written into its channel c.
void residual_interpolation(const cv::Mat& cfa, int oy, int ox, int c, cv::Mat& bgr) {
  constexpr int kWindow = 3;  // sites of the lattice a side: 5 pixels
  constexpr float kEps = 1e-3f;
  const int H = cfa.rows, W = cfa.cols;
  const int h = (H - oy + 1) / 2, w = (W - ox + 1) / 2;
  cv::Mat Gs(h, w, CV_32F), Cs(h, w, CV_32F);
  parallel_rows(h, 64, [&](int r0, int r1) {
    for (int i = r0; i < r1; ++i) {
      const cv::Vec3f* g = bgr.ptr<cv::Vec3f>(oy + 2 * i);
      const float* m = cfa.ptr<float>(oy + 2 * i);
      float *gs = Gs.ptr<float>(i), *cs = Cs.ptr<float>(i);
      for (int j = 0; j < w; ++j) gs[j] = g[ox + 2 * j][1], cs[j] = m[ox + 2 * j];
    }
  });
  const cv::Matx33f laplacian(0, -1, 0, -1, 4, -1, 0, -1, 0);
  cv::Mat lg, lc;
  cv::filter2D(Gs, lg, CV_32F, laplacian, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
  cv::filter2D(Cs, lc, CV_32F, laplacian, cv::Point(-1, -1), 0, cv::BORDER_REFLECT_101);
  const cv::Size window(kWindow, kWindow);
  cv::Mat cov, var, a, A;
  cv::blur(lg.mul(lc), cov, window, cv::Point(-1, -1), cv::BORDER_REFLECT_101);
  cv::blur(lg.mul(lg), var, window, cv::Point(-1, -1), cv::BORDER_REFLECT_101);
  cv::divide(cov, var + kEps, a);
  cv::blur(a, A, window, cv::Point(-1, -1), cv::BORDER_REFLECT_101);
  const cv::Mat D = Cs - A.mul(Gs);
  // Bilinear from the lattice: pixel x lies at lattice column (x - ox) / 2, clamped at the ends.
  std::vector<int> x0(static_cast<std::size_t>(W)), x1(static_cast<std::size_t>(W));
  for (int x = 0; x < W; ++x) {
    const int l = x - ox;
    x0[x] = std::clamp(l < 0 ? 0 : l / 2, 0, w - 1);
    x1[x] = std::clamp(l < 0 ? 0 : (l + 1) / 2, 0, w - 1);
  }
  parallel_rows(H, 32, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const int l = y - oy;
      const int i0 = std::clamp(l < 0 ? 0 : l / 2, 0, h - 1), i1 = std::clamp(l < 0 ? 0 : (l + 1) / 2, 0, h - 1);
      const float *a0 = A.ptr<float>(i0), *a1 = A.ptr<float>(i1), *d0 = D.ptr<float>(i0), *d1 = D.ptr<float>(i1);
      cv::Vec3f* o = bgr.ptr<cv::Vec3f>(y);
      for (int x = 0; x < W; ++x) {
        const int j0 = x0[x], j1 = x1[x];
        const float ua = 0.25f * (a0[j0] + a0[j1] + a1[j0] + a1[j1]);
        const float ud = 0.25f * (d0[j0] + d0[j1] + d1[j0] + d1[j1]);
        o[x][c] = ua * o[x][1] + ud;
      }
    }
  });
}

// Green by rcd's steps 1 and 2, red and blue by residual_interpolation.
cv::Mat demosaic_ri(const cv::Mat& cfa, CfaPattern pattern) {
  cv::Mat out(cfa.size(), CV_32FC3);
  rcd_strips(cfa, pattern, [&](RcdPlanes& planes, int y0, int rows) {
    for (int y = 0; y < rows; ++y) {
      const float* g = planes.G.ptr<float>(kRcdPad + y) + kRcdPad;
      cv::Vec3f* o = out.ptr<cv::Vec3f>(y0 + y);
      for (int x = 0; x < cfa.cols; ++x) o[x][1] = g[x];
    }
  });
  for (int oy = 0; oy < 2; ++oy)
    for (int ox = 0; ox < 2; ++ox) {
      const int c = cfa_channel(pattern, oy, ox);
      if (c != 1) residual_interpolation(cfa, oy, ox, c, out);
    }
  return out;
}

}  // namespace

cv::Mat demosaic(const cv::Mat& cfa, CfaPattern p, Demosaic method) {
  if (cfa.type() != CV_32FC1) throw_invalid("demosaic: expects a CV_32FC1 mosaic");
  if (p == CfaPattern::None) throw_invalid("demosaic: the frame has no Bayer pattern");
  // Odd sizes are fine (the pattern is named at the top-left corner); files of them are refused by
  // read_raw, as sensors deliver whole 2x2 tiles, but the simulator's frames of odd-sized scenes are not.
  if (cfa.cols < 4 || cfa.rows < 4) throw_invalid("demosaic: a mosaic must be at least 4x4");
  if (method == Demosaic::Ri) return demosaic_ri(cfa, p);
  if (method == Demosaic::Rcd) return demosaic_rcd(cfa, p);
  return method == Demosaic::Mhc ? demosaic_mhc(cfa, p) : demosaic_opencv(cfa, p, method);
}

cv::Mat develop_linear(const RawFrame& frame, const FinishOptions& o) {
  o.validate();
  cv::Mat linear = raw_linear(frame);
  if (frame.mono()) return linear;
  // White balance on the mosaic, before the demosaic (as dcraw scales the colours before it
  // interpolates): the interpolations that follow colour differences or ratios assume a grey
  // surface reads the same in every channel. Clipped at the sensor's white after the gains, as
  // dcraw's default highlight mode does: a clipped highlight stays white instead of turning magenta.
  const cv::Vec3d wb = o.white_balance ? frame.white_balance : cv::Vec3d(1, 1, 1);
  parallel_rows(linear.rows, 16, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      float* p = linear.ptr<float>(y);
      const float even = float(wb[cfa_channel(frame.cfa, y, 0)]), odd = float(wb[cfa_channel(frame.cfa, y, 1)]);
      for (int x = 0; x < linear.cols; ++x) p[x] = std::min(1.0f, p[x] * (x % 2 ? odd : even));
    }
  });
  cv::Mat bgr = demosaic(linear, frame.cfa, o.demosaic);
  if (!o.color_matrix || frame.camera_to_srgb == cv::Matx33d::eye()) return bgr;
  const cv::Matx33f m(frame.camera_to_srgb);
  parallel_rows(bgr.rows, 16, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      cv::Vec3f* p = bgr.ptr<cv::Vec3f>(y);
      for (int x = 0; x < bgr.cols; ++x) p[x] = m * p[x];
    }
  });
  return bgr;
}

cv::Mat finish_image(const cv::Mat& linear, const FinishOptions& o, cv::Mat* exposed) {
  o.validate();
  if (linear.depth() != CV_32F || (linear.channels() != 1 && linear.channels() != 3))
    throw_invalid("finish_image: expects a CV_32FC1 or CV_32FC3 linear image");
  // Extended Reinhard with its white at the exposed sensor white: x (1 + x / w^2) / (1 + x),
  // so 0 -> 0 and w -> 1 (the identity when w = 1): what the exposure lifted above the sensor's
  // white is rolled off smoothly instead of clipped.
  const float e = float(o.exposure), w = float(std::max(1.0, o.exposure)), w2 = w * w;
  const bool filmic = o.tone == ToneCurve::Filmic;
  cv::Mat out(linear.size(), CV_MAKETYPE(o.bits == 16 ? CV_16U : CV_8U, linear.channels()));
  const int n = linear.cols * linear.channels();
  if (exposed) exposed->create(linear.size(), linear.type());
  // A row at a time: exposed, toned and encoded in one pass, without a full-size temporary.
  parallel_rows(linear.rows, 16, [&](int r0, int r1) {
    std::vector<float> v(static_cast<std::size_t>(n));
    for (int r = r0; r < r1; ++r) {
      const float* s = linear.ptr<float>(r);
      float* ex = exposed ? exposed->ptr<float>(r) : nullptr;
      for (int i = 0; i < n; ++i) {
        const float x = s[i] * e;
        if (ex) ex[i] = x;
        if (!filmic) {
          v[i] = x;
          continue;
        }
        const float t = std::max(0.0f, x);
        v[i] = std::min(1.0f, t * (1.0f + t / w2) / (1.0f + t));
      }
      if (o.bits == 16)
        to_srgb_values(v.data(), out.ptr<std::uint16_t>(r), n);
      else
        to_srgb_values(v.data(), out.ptr<std::uint8_t>(r), n);
    }
  });
  return out;
}

}  // namespace dualcam
