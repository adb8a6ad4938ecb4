#include "sgm_kernels.hpp"

#include <algorithm>
#include <cstring>
#include <string>

#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam::fusion::kernels {
namespace {

// Path costs never reach this, and kBig + P1 still fits in int16.
constexpr std::int16_t kBig = 16000;
constexpr int kTileRows = 16;

// Hamming distances of one left row against the right row for every disparity. Compiled twice:
// with the POPCNT instruction where the CPU has it, portable otherwise (same results).
template <bool kHw>
inline void hamming_row_impl(const std::uint64_t* cl, const std::uint64_t* cr, int width, int D, std::uint8_t invalid,
                             std::uint8_t* out) {
  for (int x = 0; x < width; ++x) {
    std::uint8_t* o = out + static_cast<std::size_t>(x) * D;
    const std::uint64_t c = cl[x];
    const int dmax = std::min(D, x + 1);
    for (int d = 0; d < dmax; ++d) o[d] = static_cast<std::uint8_t>(__builtin_popcountll(c ^ cr[x - d]));
    for (int d = dmax; d < D; ++d) o[d] = invalid;
  }
}

#if defined(__x86_64__) && defined(__GNUC__)
__attribute__((target("popcnt"))) void hamming_row_hw(const std::uint64_t* cl, const std::uint64_t* cr, int width,
                                                      int D, std::uint8_t invalid, std::uint8_t* out) {
  hamming_row_impl<true>(cl, cr, width, D, invalid, out);
}
bool has_popcnt() {
  static const bool yes = __builtin_cpu_supports("popcnt");
  return yes;
}
#endif

void hamming_row(const std::uint64_t* cl, const std::uint64_t* cr, int width, int D, std::uint8_t invalid,
                 std::uint8_t* out) {
#if defined(__x86_64__) && defined(__GNUC__)
  if (has_popcnt()) return hamming_row_hw(cl, cr, width, D, invalid, out);
#endif
  hamming_row_impl<false>(cl, cr, width, D, invalid, out);
}

// One step along a path (Hirschmueller 2008, eq. 13) for all disparities of a pixel:
// L(d) = C(d) + min(Lp(d), Lp(d-1) + P1, Lp(d+1) + P1, min Lp + P2) - min Lp.
// `lp` points at d = 0 of a vector padded with kBig at lp[-1] and lp[D]. Adds L to `sum` and
// returns min L.
inline std::int16_t path_step(const std::uint16_t* __restrict c, const std::int16_t* __restrict lp, std::int16_t lp_min,
                              std::int16_t p1, std::int16_t p2, std::int16_t* __restrict l,
                              std::uint16_t* __restrict sum, int D) {
  const std::int16_t base = static_cast<std::int16_t>(lp_min + p2);
  std::int16_t mn = kBig;
  for (int d = 0; d < D; ++d) {
    const std::int16_t side = static_cast<std::int16_t>(std::min(lp[d - 1], lp[d + 1]) + p1);
    const std::int16_t m = std::min(std::min(lp[d], side), base);
    const std::int16_t v = static_cast<std::int16_t>(c[d] + m - lp_min);
    l[d] = v;
    sum[d] = static_cast<std::uint16_t>(sum[d] + v);
    mn = std::min(mn, v);
  }
  return mn;
}

// The first pixel of a path: L = C.
inline std::int16_t path_start(const std::uint16_t* c, std::int16_t* l, std::uint16_t* sum, int D) {
  std::int16_t mn = kBig;
  for (int d = 0; d < D; ++d) {
    const std::int16_t v = static_cast<std::int16_t>(c[d]);
    l[d] = v;
    sum[d] = static_cast<std::uint16_t>(sum[d] + v);
    mn = std::min(mn, v);
  }
  return mn;
}

inline std::int16_t penalty2(const SgmParams& p, int a, int b) {
  if (std::abs(a - b) <= p.edge_threshold) return static_cast<std::int16_t>(p.p2);
  return static_cast<std::int16_t>(std::max(p.p1 + 1, static_cast<int>(p.p2 * p.p2_edge)));
}

// A row of W padded disparity vectors (stride D + 2, kBig at both ends).
struct PathRow {
  int D = 0;
  std::vector<std::int16_t> buf;
  std::vector<std::int16_t> min;
  PathRow(int width, int d) : D(d), buf(static_cast<std::size_t>(width) * (d + 2), kBig), min(width, 0) {}
  std::int16_t* at(int x) { return buf.data() + static_cast<std::size_t>(x) * (D + 2) + 1; }
};

}  // namespace

std::vector<std::uint64_t> census_transform(const cv::Mat& image8, int win_w, int win_h) {
  // The census matcher checks the images' type in match_left_full and the window in
  // CensusSgmOptions::validate (StereoMatcher::create) before it gets here.
  if (image8.type() != CV_8UC1 || win_w % 2 != 1 || win_h % 2 != 1 || win_w * win_h > 65)
    throw Error(ErrorCategory::Numerical,
                "census_transform (internal): expects a CV_8UC1 image and an odd window of at most 65 pixels, got " +
                    cv::typeToString(image8.type()) + " and " + std::to_string(win_w) + "x" + std::to_string(win_h));
  const int rw = win_w / 2, rh = win_h / 2;
  cv::Mat padded;
  cv::copyMakeBorder(image8, padded, rh, rh, rw, rw, cv::BORDER_REPLICATE);
  const int W = image8.cols, H = image8.rows;
  std::vector<std::uint64_t> out(static_cast<std::size_t>(W) * H);
  parallel_rows(H, kTileRows, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      std::uint64_t* o = out.data() + static_cast<std::size_t>(y) * W;
      std::fill(o, o + W, 0);
      const std::uint8_t* centre = padded.ptr<std::uint8_t>(y + rh) + rw;
      for (int dy = -rh; dy <= rh; ++dy) {
        const std::uint8_t* row = padded.ptr<std::uint8_t>(y + rh + dy) + rw;
        for (int dx = -rw; dx <= rw; ++dx) {
          if (dx == 0 && dy == 0) continue;
          for (int x = 0; x < W; ++x) o[x] = (o[x] << 1) | static_cast<std::uint64_t>(row[x + dx] < centre[x]);
        }
      }
    }
  });
  return out;
}

void census_cost_volume(const std::vector<std::uint64_t>& left, const std::vector<std::uint64_t>& right, int W, int H,
                        int D, int br, int invalid_cost, std::vector<std::uint16_t>& cost) {
  cost.resize(static_cast<std::size_t>(W) * H * D);
  const std::size_t row_len = static_cast<std::size_t>(W) * D;
  parallel_rows(H, kTileRows, [&](int r0, int r1) {
    // Hamming rows r0 - br .. r1 + br (clamped), then the box: columns, then a running sum along x.
    const int h0 = std::max(0, r0 - br), h1 = std::min(H, r1 + br);
    std::vector<std::uint8_t> ham(static_cast<std::size_t>(h1 - h0) * row_len);
    for (int y = h0; y < h1; ++y)
      hamming_row(left.data() + static_cast<std::size_t>(y) * W, right.data() + static_cast<std::size_t>(y) * W, W, D,
                  static_cast<std::uint8_t>(invalid_cost), ham.data() + (y - h0) * row_len);
    std::vector<std::uint16_t> col(row_len), acc(D);
    for (int y = r0; y < r1; ++y) {
      std::fill(col.begin(), col.end(), 0);
      for (int yy = y - br; yy <= y + br; ++yy) {
        const std::uint8_t* h = ham.data() + (std::clamp(yy, 0, H - 1) - h0) * row_len;
        for (std::size_t i = 0; i < row_len; ++i) col[i] = static_cast<std::uint16_t>(col[i] + h[i]);
      }
      std::uint16_t* out = cost.data() + static_cast<std::size_t>(y) * row_len;
      if (br == 0) {
        std::copy(col.begin(), col.end(), out);
        continue;
      }
      std::fill(acc.begin(), acc.end(), 0);
      for (int xx = -br; xx <= br; ++xx) {
        const std::uint16_t* c = col.data() + static_cast<std::size_t>(std::clamp(xx, 0, W - 1)) * D;
        for (int d = 0; d < D; ++d) acc[d] = static_cast<std::uint16_t>(acc[d] + c[d]);
      }
      for (int x = 0; x < W; ++x) {
        std::copy(acc.begin(), acc.end(), out + static_cast<std::size_t>(x) * D);
        const std::uint16_t* add = col.data() + static_cast<std::size_t>(std::min(x + br + 1, W - 1)) * D;
        const std::uint16_t* sub = col.data() + static_cast<std::size_t>(std::max(x - br, 0)) * D;
        for (int d = 0; d < D; ++d) acc[d] = static_cast<std::uint16_t>(acc[d] + add[d] - sub[d]);
      }
    }
  });
}

void set_blind_costs(const cv::Mat& blind_left, const cv::Mat& blind_right, int D, std::uint16_t value,
                     std::vector<std::uint16_t>& cost) {
  const cv::Mat& any = blind_left.empty() ? blind_right : blind_left;
  const int W = any.cols, H = any.rows;
  parallel_rows(H, kTileRows, [&](int r0, int r1) {
    for (int y = r0; y < r1; ++y) {
      const std::uint8_t* bl = blind_left.empty() ? nullptr : blind_left.ptr<std::uint8_t>(y);
      const std::uint8_t* br = blind_right.empty() ? nullptr : blind_right.ptr<std::uint8_t>(y);
      for (int x = 0; x < W; ++x) {
        std::uint16_t* c = cost.data() + (static_cast<std::size_t>(y) * W + x) * D;
        if (bl && bl[x]) {
          std::fill(c, c + D, value);
          continue;
        }
        if (!br) continue;
        for (int d = 0; d < std::min(D, x + 1); ++d)
          if (br[x - d]) c[d] = value;
      }
    }
  });
}

void sgm_aggregate(const std::vector<std::uint16_t>& cost, const cv::Mat& guide, int D, const SgmParams& p,
                   std::vector<std::uint16_t>& sum) {
  const int W = guide.cols, H = guide.rows;
  const std::size_t row_len = static_cast<std::size_t>(W) * D;
  sum.assign(static_cast<std::size_t>(H) * row_len, 0);
  const std::int16_t p1 = static_cast<std::int16_t>(p.p1);

  // Along rows, both directions: rows are independent.
  parallel_rows(H, 8, [&](int r0, int r1) {
    std::vector<std::int16_t> a(D + 2, kBig), b(D + 2, kBig);
    for (int y = r0; y < r1; ++y) {
      const std::uint16_t* c = cost.data() + y * row_len;
      std::uint16_t* s = sum.data() + y * row_len;
      const std::uint8_t* g = guide.ptr<std::uint8_t>(y);
      std::int16_t* lp = a.data() + 1;
      std::int16_t* lc = b.data() + 1;
      std::int16_t mn = path_start(c, lp, s, D);
      for (int x = 1; x < W; ++x) {
        mn = path_step(c + x * D, lp, mn, p1, penalty2(p, g[x], g[x - 1]), lc, s + x * D, D);
        std::swap(lp, lc);
      }
      mn = path_start(c + (W - 1) * D, lp, s + (W - 1) * D, D);
      for (int x = W - 2; x >= 0; --x) {
        mn = path_step(c + x * D, lp, mn, p1, penalty2(p, g[x], g[x + 1]), lc, s + x * D, D);
        std::swap(lp, lc);
      }
    }
  });

  // Down and up the columns (and the diagonals with 8 paths): each row depends on the previous
  // one only, so a row is split into column chunks.
  const bool diag = p.paths == 8;
  for (int dir = 0; dir < 2; ++dir) {
    PathRow vp(W, D), vc(W, D);
    PathRow ap(diag ? W : 0, D), ac(diag ? W : 0, D), bp(diag ? W : 0, D), bc(diag ? W : 0, D);
    for (int i = 0; i < H; ++i) {
      const int y = dir == 0 ? i : H - 1 - i;
      const int yp = dir == 0 ? y - 1 : y + 1;
      const std::uint16_t* c = cost.data() + y * row_len;
      std::uint16_t* s = sum.data() + y * row_len;
      const std::uint8_t* g = guide.ptr<std::uint8_t>(y);
      const std::uint8_t* gp = i > 0 ? guide.ptr<std::uint8_t>(yp) : nullptr;
      parallel_rows(W, 64, [&](int x0, int x1) {
        for (int x = x0; x < x1; ++x) {
          const std::uint16_t* cx = c + x * D;
          std::uint16_t* sx = s + x * D;
          if (i == 0) {
            vc.min[x] = path_start(cx, vc.at(x), sx, D);
            if (diag) {
              ac.min[x] = path_start(cx, ac.at(x), sx, D);
              bc.min[x] = path_start(cx, bc.at(x), sx, D);
            }
            continue;
          }
          vc.min[x] = path_step(cx, vp.at(x), vp.min[x], p1, penalty2(p, g[x], gp[x]), vc.at(x), sx, D);
          if (!diag) continue;
          // Diagonal a comes from x - 1, diagonal b from x + 1 on the previous row.
          ac.min[x] = x > 0 ? path_step(cx, ap.at(x - 1), ap.min[x - 1], p1, penalty2(p, g[x], gp[x - 1]), ac.at(x),
                                        sx, D)
                            : path_start(cx, ac.at(x), sx, D);
          bc.min[x] = x < W - 1 ? path_step(cx, bp.at(x + 1), bp.min[x + 1], p1, penalty2(p, g[x], gp[x + 1]),
                                            bc.at(x), sx, D)
                                : path_start(cx, bc.at(x), sx, D);
        }
      });
      std::swap(vp, vc);
      if (diag) {
        std::swap(ap, ac);
        std::swap(bp, bc);
      }
    }
  }
}

}  // namespace dualcam::fusion::kernels
