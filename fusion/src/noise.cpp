// The noise model measured from an image (noise.hpp).
#include "dualcam/fusion/noise.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <utility>
#include <vector>

#include <tbb/combinable.h>
#include <tbb/parallel_for.h>

#include "dualcam/engine/color.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/srgb_tables.hpp"

namespace dualcam::fusion {

void NoiseOptions::validate() const {
  check_range("NoiseOptions::block", block, 4, 32);
  check_range("NoiseOptions::pixel_block", pixel_block, 8, 64);
  check_range("NoiseOptions::level_sets", level_sets, 2, 64);
  check_range("NoiseOptions::scales", scales, 1, 5);
  check_range("NoiseOptions::max_blocks", max_blocks, 0, 1e9);
}

namespace {

using Hist = std::vector<std::uint64_t>;

// The codes' histogram of every channel over every other row (integer counts: the same for any
// thread count; half the rows say as much about which codes are used and where they pile up).
template <typename T>
std::vector<Hist> histograms(const cv::Mat& img, int codes) {
  const int C = img.channels(), n = img.cols * C;
  tbb::combinable<std::vector<Hist>> local([&] { return std::vector<Hist>(C, Hist(codes, 0)); });
  parallel_rows((img.rows + 1) / 2, 16, [&](int r0, int r1) {
    std::vector<Hist>& h = local.local();
    for (int r = r0; r < r1; ++r) {
      const T* p = img.ptr<T>(2 * r);
      for (int i = 0; i < n; i += C)
        for (int c = 0; c < C; ++c) ++h[c][p[i + c]];
    }
  });
  std::vector<Hist> total(C, Hist(codes, 0));
  local.combine_each([&](const std::vector<Hist>& h) {
    for (int c = 0; c < C; ++c)
      for (int i = 0; i < codes; ++i) total[c][i] += h[c][i];
  });
  return total;
}

// The lowest and the highest code used, each returned as a clip (-1 otherwise) when it holds more
// than twice the mean count of the used codes among the `k` next to it (or is the only one used
// there), and at least 16 samples: a pile-up. Only used codes count: a frame stretched by a gain
// uses every few codes, and its extreme code is no pile-up for the empty ones beside it. The
// minimum count: the extreme code of a 16-bit image's sparse tail holds a sample or two, more than
// twice the mean of 1024 mostly empty codes (tests/fusion/test_noise.cpp found such false clips on
// every noisy 16-bit ramp).
std::pair<int, int> clip_codes(const Hist& h, int k) {
  const int n = int(h.size());
  int lo = 0, hi = n - 1;
  while (lo < n && h[lo] == 0) ++lo;
  while (hi >= 0 && h[hi] == 0) --hi;
  if (lo > hi) return {-1, -1};
  auto piled = [&](int c, int dir) {
    double sum = 0;
    int m = 0;
    for (int i = 1; i <= k && c + dir * i >= 0 && c + dir * i < n; ++i)
      if (h[c + dir * i] > 0) sum += double(h[c + dir * i]), ++m;
    return h[c] >= 16 && (m == 0 || double(h[c]) > 2.0 * sum / m);
  };
  return {piled(lo, +1) ? lo : -1, piled(hi, -1) ? hi : -1};
}

// The quantisation floor per code, step^2 / 12: the linear size of one code times the spacing of
// the codes the image uses around it. A code counts as used when it holds at least a fifth of
// the mean count of the used codes within `w` of it (a bilinear demosaic of a posterised frame
// fills in-between codes thinly). Also (`dark_spacing`) the median spacing over the darkest
// fifth of the range the image uses.
std::vector<float> quantisation_floor(const std::vector<Hist>& hists, const float* lut, double& dark_spacing) {
  const int n = int(hists[0].size());
  Hist h(n, 0);
  for (const Hist& hc : hists)
    for (int i = 0; i < n; ++i) h[i] += hc[i];
  const int w = n > 256 ? 512 : 8;
  const int every = n > 256 ? 64 : 1;  // 16-bit: the spacing every 64 codes (a window holds 1025)
  std::vector<double> prefix_count(n + 1, 0), prefix_used(n + 1, 0);
  for (int i = 0; i < n; ++i) {
    prefix_count[i + 1] = prefix_count[i] + double(h[i]);
    prefix_used[i + 1] = prefix_used[i] + (h[i] > 0 ? 1.0 : 0.0);
  }
  std::vector<double> spacing(n, 1.0);
  for (int c = 0; c < n; c += every) {
    const int a = std::max(0, c - w), b = std::min(n - 1, c + w);
    const double used_any = prefix_used[b + 1] - prefix_used[a];
    double s = 1.0;
    if (used_any > 0) {
      const double mean = (prefix_count[b + 1] - prefix_count[a]) / used_any;
      int used = 0, first = -1, last = -1;
      for (int i = a; i <= b; ++i)
        if (h[i] > 0 && double(h[i]) >= 0.2 * mean) {
          ++used;
          if (first < 0) first = i;
          last = i;
        }
      // The mean gap between the used codes, not the window's length over their number: that
      // counted the codes beyond the image's range at its darkest and brightest codes (a dark
      // frame of codes 4..50 read 1.3, its floor 2.6x too high at code 50), and a window of 17
      // codes holds 5 of every 4th (3.4 for a gain of 4).
      s = used >= 2 ? double(last - first) / double(used - 1) : double(b - a + 1) / std::max(1, used);
    }
    for (int i = c; i < std::min(n, c + every); ++i) spacing[i] = s;
  }
  std::vector<float> floor(n);
  for (int c = 0; c < n; ++c) {
    const int a = std::max(0, c - 1), b = std::min(n - 1, c + 1);
    const double step = (lut[b] - lut[a]) / double(b - a) * spacing[c];
    floor[c] = float(step * step / 12.0);
  }
  int lo = 0, hi = n - 1;
  while (lo < n && h[lo] == 0) ++lo;
  while (hi > lo && h[hi] == 0) --hi;
  std::vector<double> dark;
  for (int c = lo; c <= lo + (hi - lo) / 5; ++c)
    if (h[c] > 0) dark.push_back(spacing[c]);
  dark_spacing = 1;
  if (!dark.empty()) {
    std::nth_element(dark.begin(), dark.begin() + dark.size() / 2, dark.end());
    dark_spacing = dark[dark.size() / 2];
  }
  return floor;
}

// The floor per code at the tables' levels (linear interpolation between codes).
std::vector<float> floor_table(const std::vector<float>& by_code) {
  const int code_max = int(by_code.size()) - 1;
  std::vector<float> t(NoiseModel::kTable + 1);
  for (int i = 0; i <= NoiseModel::kTable; ++i) {
    const float l = float(i) * i / (float(NoiseModel::kTable) * NoiseModel::kTable);
    const float code = linear_to_srgb(l) * float(code_max);
    const int c0 = std::min(code_max - 1, int(code));
    t[i] = by_code[c0] + (code - float(c0)) * (by_code[c0 + 1] - by_code[c0]);
  }
  return t;
}

// One block's statistics.
struct Block {
  float mean = 0;  // linear level
  float stat = 0;  // the measured variance (see BlockStat)
  bool clipped = false;
};

enum class BlockStat { Fine, Plane };

// The statistic of a block of B x B samples `z` (row-major).
// Fine: the mean square of [1 -2 1] x [1 -2 1] / 6 over the block's interior (unit gain for white
// noise; removes any level, gradient, and curvature along one axis).
// Plane: the variance about the block's least-squares plane (B^2 - 3 degrees of freedom).
Block block_stats(const float* z, int B, BlockStat stat) {
  Block s;
  double sum = 0;
  for (int i = 0; i < B * B; ++i) sum += z[i];
  const double mean = sum / (B * B);
  s.mean = float(mean);
  if (stat == BlockStat::Fine) {
    double e = 0;
    for (int y = 1; y < B - 1; ++y)
      for (int x = 1; x < B - 1; ++x) {
        const float* a = z + (y - 1) * B + x;
        const float* m = a + B;
        const float* b = m + B;
        const double h = ((a[-1] + a[1] + b[-1] + b[1]) - 2.0 * (a[0] + b[0] + m[-1] + m[1]) + 4.0 * m[0]) / 6.0;
        e += h * h;
      }
    s.stat = float(e / double((B - 2) * (B - 2)));
    return s;
  }
  double ss = 0, su = 0, sv = 0, uu = 0;
  for (int y = 0; y < B; ++y)
    for (int x = 0; x < B; ++x) {
      const double d = z[y * B + x] - mean, u = x - 0.5 * (B - 1), v = y - 0.5 * (B - 1);
      ss += d * d, su += d * u, sv += d * v;
      if (y == 0) uu += u * u;
    }
  uu *= B;  // the sum of u^2 over the block (= that of v^2)
  s.stat = float(std::max(0.0, ss - (su * su + sv * sv) / uu) / double(B * B - 3));
  return s;
}

// The blocks of channel `c` at `scale`: each of B x B samples, a sample the linear mean of
// 2^scale x 2^scale pixels (decoded by `lut`); blocks on an even grid (a stride in both
// directions) so that at most `cap` are taken; in row order. A block is clipped when it holds a
// clip code of the channel.
template <typename T>
std::vector<Block> sample_blocks(const cv::Mat& img, const float* lut, std::pair<int, int> clip, int c, int scale,
                                 int B, int cap, BlockStat stat) {
  const int C = img.channels(), f = 1 << scale, px = B * f;
  const int bw = img.cols / px, bh = img.rows / px;
  int stride = 1;
  while (cap > 0 && double((bw + stride - 1) / stride) * ((bh + stride - 1) / stride) > cap) ++stride;
  const int nx = (bw + stride - 1) / stride, ny = (bh + stride - 1) / stride;
  std::vector<Block> blocks(static_cast<std::size_t>(nx) * ny);
  const float inv = 1.0f / float(f * f);
  parallel_rows(ny, 2, [&](int j0, int j1) {
    std::vector<float> z(static_cast<std::size_t>(B) * B);
    for (int j = j0; j < j1; ++j)
      for (int i = 0; i < nx; ++i) {
        const int y0 = j * stride * px, x0 = i * stride * px;
        bool clipped = false;
        std::fill(z.begin(), z.end(), 0.0f);
        for (int y = 0; y < px; ++y) {
          const T* p = img.ptr<T>(y0 + y) + static_cast<std::size_t>(x0) * C + c;
          float* row = z.data() + static_cast<std::size_t>(y >> scale) * B;  // y / f, x / f: f = 2^scale
          for (int x = 0; x < px; ++x) {
            const int code = p[static_cast<std::size_t>(x) * C];
            clipped |= (code == clip.first) | (code == clip.second);
            row[x >> scale] += lut[code];
          }
        }
        for (float& v : z) v *= inv;
        Block b = block_stats(z.data(), B, stat);
        b.clipped = clipped;
        blocks[static_cast<std::size_t>(j) * nx + i] = b;
      }
  });
  return blocks;
}

// Robust mean of the statistic over a level set's blocks: the blocks above 4x the lower quartile
// (or 4x the floor, if larger) hold texture, not only noise, and are left out (a flat 8x8
// block's fine energy is above 3x its noise variance with a probability below 1e-4); the mean of
// the rest is the estimate (a mean of squares stays unbiased on quantised values, where a median
// of absolute values collapses to 0).
double robust_mean(const std::vector<float>& v, double floor) {
  if (v.empty()) return 0;
  std::vector<float> sorted = v;
  const std::size_t q = sorted.size() / 4;
  std::nth_element(sorted.begin(), sorted.begin() + q, sorted.end());
  const double cut = 4.0 * std::max(double(sorted[q]), floor);
  double sum = 0;
  long n = 0;
  for (float x : v)
    if (x <= cut) sum += x, ++n;
  return n > 0 ? sum / double(n) : 0.0;
}

// Weighted least squares of variance = a + b * level over the sets (weights ~ blocks /
// variance^2: a variance estimate's error is relative), iterated with weights from the fit and
// a Huber weight on the relative residual (20 %), b kept >= 0.
void fit_affine(NoiseCurve& curve) {
  const auto& s = curve.sets;
  curve.a = curve.b = curve.fit_rms_rel = 0;
  if (s.empty()) return;
  std::vector<double> fit(s.size()), huber(s.size(), 1.0);
  for (std::size_t i = 0; i < s.size(); ++i) fit[i] = std::max(s[i].variance, 1e-30);
  double a = 0, b = 0;
  for (int iter = 0; iter < 6; ++iter) {
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (std::size_t i = 0; i < s.size(); ++i) {
      const double w = huber[i] * s[i].blocks / (fit[i] * fit[i]), x = s[i].level, y = s[i].variance;
      sw += w, sx += w * x, sy += w * y, sxx += w * x * x, sxy += w * x * y;
    }
    const double den = sw * sxx - sx * sx;
    b = den > 0 ? (sw * sxy - sx * sy) / den : 0.0;
    if (!(b > 0)) b = 0;
    a = (sy - b * sx) / sw;
    for (std::size_t i = 0; i < s.size(); ++i) {
      fit[i] = std::max(a + b * s[i].level, 1e-3 * s[i].variance + 1e-30);
      const double rel = std::abs(s[i].variance - fit[i]) / fit[i];
      huber[i] = rel <= 0.2 ? 1.0 : 0.2 / rel;
    }
  }
  curve.a = a;
  curve.b = b;
  double e = 0;
  for (std::size_t i = 0; i < s.size(); ++i) {
    const double rel = (s[i].variance - fit[i]) / fit[i];
    e += rel * rel;
  }
  curve.fit_rms_rel = std::sqrt(e / double(s.size()));
}

// The level sets of one statistic of one channel: the blocks in `level_sets` equal shares by
// local mean, each set's robust mean over its unclipped blocks (floored), then the affine fit.
// `floor` gives the floor at a level.
template <typename Floor>
NoiseCurve measure_curve(const std::vector<Block>& blocks, int level_sets, Floor&& floor) {
  NoiseCurve curve;
  level_sets = std::max(2, std::min(level_sets, int(blocks.size() / 32)));
  std::vector<std::size_t> order(blocks.size());
  std::iota(order.begin(), order.end(), std::size_t(0));
  std::sort(order.begin(), order.end(), [&](std::size_t i, std::size_t j) {
    return blocks[i].mean < blocks[j].mean || (blocks[i].mean == blocks[j].mean && i < j);
  });
  const std::size_t n = order.size();
  for (int k = 0; k < level_sets; ++k) {
    const std::size_t i0 = n * k / level_sets, i1 = n * (k + 1) / level_sets;
    std::vector<float> stat;
    double level = 0;
    for (std::size_t i = i0; i < i1; ++i) {
      const Block& b = blocks[order[i]];
      if (b.clipped) continue;
      stat.push_back(b.stat);
      level += b.mean;
    }
    // Too few, or most of the set clipped: what is left is biased by the truncation.
    if (stat.size() < 16 || 2 * stat.size() < i1 - i0) continue;
    NoiseLevelSet set;
    set.level = level / double(stat.size());
    const double fl = floor(set.level);
    set.variance = std::max(robust_mean(stat, fl), fl);
    set.blocks = int(stat.size());
    curve.sets.push_back(set);
  }
  fit_affine(curve);
  return curve;
}

// A curve's table over sqrt(level): the sets' values interpolated linearly in the level; beyond
// the first and the last set, the end value times the affine fit's ratio (when the fit is
// positive at the end), so the curve keeps growing with the level as a Poissonian one does; where
// the fit is not positive (a < 0, below -a / b) the ratio is 0 and the floor takes over (it was 1:
// the end value again, a jump up from ~0 at -a / b, measured on a dark frame stretched by a gain
// of 4). No set: all 0.
std::vector<float> curve_table(const NoiseCurve& c) {
  const int T = NoiseModel::kTable;
  std::vector<float> t(T + 1, 0.0f);
  const auto& s = c.sets;
  if (s.empty()) return t;
  auto fit = [&](double l) { return c.a + c.b * l; };
  auto extend = [&](const NoiseLevelSet& end, double l) {
    const double f0 = fit(end.level), f = fit(l);
    return end.variance * (f0 > 0 ? std::max(f, 0.0) / f0 : 1.0);
  };
  std::size_t k = 1;
  for (int i = 0; i <= T; ++i) {
    const double l = double(i) * i / (double(T) * T);
    double v;
    if (l <= s.front().level) {
      v = extend(s.front(), l);
    } else if (l >= s.back().level) {
      v = extend(s.back(), l);
    } else {
      while (s[k].level < l) ++k;
      const double u = (l - s[k - 1].level) / std::max(1e-12, s[k].level - s[k - 1].level);
      v = s[k - 1].variance + u * (s[k].variance - s[k - 1].variance);
    }
    t[i] = float(v);
  }
  return t;
}

template <typename T>
NoiseModel estimate_typed(const cv::Mat& img, const NoiseOptions& o) {
  const int codes = sizeof(T) == 1 ? 256 : 65536;
  const float* lut = sizeof(T) == 1 ? srgb_tables::linear_lut8().data() : srgb_tables::linear_lut16().data();
  const int C = img.channels();
  const std::vector<Hist> hists = histograms<T>(img, codes);
  std::vector<std::pair<int, int>> clips;
  std::array<int, 2> clipped{-1, -1};
  for (const Hist& h : hists) {
    clips.push_back(clip_codes(h, codes > 256 ? 1024 : 4));
    clipped[0] = std::max(clipped[0], clips.back().first);
    if (clips.back().second >= 0) clipped[1] = clipped[1] < 0 ? clips.back().second : std::min(clipped[1], clips.back().second);
  }
  double spacing = 1;
  const std::vector<float> floor = floor_table(quantisation_floor(hists, lut, spacing));
  auto floor_at = [&](double level) { return double(floor[NoiseModel::index(float(level))]); };
  int scales = 0;
  while (scales < o.scales && img.cols / (o.block << scales) >= 4 && img.rows / (o.block << scales) >= 4) ++scales;
  // Every (statistic, scale, channel) curve is its own job: blocks sampled (rows in parallel),
  // then the level sets (serial: a sort of the blocks); the jobs side by side so that one's serial
  // part runs beside another's blocks. Each curve is what it would be alone.
  std::vector<std::vector<NoiseCurve>> fine(static_cast<std::size_t>(scales), std::vector<NoiseCurve>(C));
  std::vector<NoiseCurve> pixel(static_cast<std::size_t>(C));
  const int pixel_cap = o.max_blocks > 0 ? std::max(2048, o.max_blocks / 4) : 0;
  tbb::parallel_for(0, (scales + 1) * C, [&](int job) {
    const int s = job / C, c = job % C;
    if (s == scales) {
      pixel[std::size_t(c)] = measure_curve(
          sample_blocks<T>(img, lut, clips[c], c, 0, o.pixel_block, pixel_cap, BlockStat::Plane), o.level_sets, floor_at);
      return;
    }
    const int cap = o.max_blocks > 0 ? std::max(2048, o.max_blocks >> (2 * s)) : 0;
    const double scale_floor = 1.0 / double(1 << (2 * s));  // a quantisation error averages as white noise
    fine[std::size_t(s)][std::size_t(c)] =
        measure_curve(sample_blocks<T>(img, lut, clips[c], c, s, o.block, cap, BlockStat::Fine), o.level_sets,
                      [&](double l) { return floor_at(l) * scale_floor; });
  });
  return NoiseModel::from_curves(std::move(fine), std::move(pixel), floor, spacing, clipped);
}

}  // namespace

float NoiseModel::fine(int scale, int channel, float level) const {
  if (fine_table_.empty()) return 0.0f;
  const int s = std::min(scale, scales() - 1);
  float v = fine_table_[static_cast<std::size_t>(s) * channels() + channel][index(level)];
  for (int k = s; k < scale; ++k) v *= 0.25f;
  return v;
}

NoiseModel NoiseModel::from_curves(std::vector<std::vector<NoiseCurve>> fine, std::vector<NoiseCurve> pixel,
                                   std::vector<float> floor, double code_spacing, std::array<int, 2> clipped) {
  NoiseModel m;
  m.fine_ = std::move(fine);
  m.pixel_ = std::move(pixel);
  m.floor_ = floor.empty() ? std::vector<float>(kTable + 1, 0.0f) : std::move(floor);
  if (m.floor_.size() != std::size_t(kTable) + 1) throw_invalid("NoiseModel::from_curves: the floor needs kTable + 1 entries");
  m.code_spacing_ = code_spacing;
  m.clipped_ = clipped;
  const int C = m.channels();
  for (const auto& per : m.fine_)
    if (int(per.size()) != C) throw_invalid("NoiseModel::from_curves: every scale needs one curve per channel");
  for (int s = 0; s < m.scales(); ++s)
    for (int c = 0; c < C; ++c) {
      std::vector<float> t = curve_table(m.fine_[s][c]);
      const bool none = m.fine_[s][c].sets.empty();
      for (int i = 0; i <= kTable; ++i) {
        // No set at this scale: the scale above, as white noise.
        if (none && s > 0) t[i] = 0.25f * m.fine_table_[static_cast<std::size_t>(s - 1) * C + c][i];
        t[i] = std::max(t[i], m.floor_[i] / float(1 << (2 * s)));
      }
      m.fine_table_.push_back(std::move(t));
    }
  for (int c = 0; c < C; ++c) {
    std::vector<float> t = curve_table(m.pixel_[c]);
    for (int i = 0; i <= kTable; ++i)
      t[i] = std::max({t[i], m.fine_table_.empty() ? 0.0f : m.fine_table_[c][i], m.floor_[i]});
    m.pixel_table_.push_back(std::move(t));
  }
  return m;
}

Json NoiseModel::to_json() const {
  Json j;
  j["channels"] = channels();
  j["code_spacing"] = code_spacing_;
  j["clipped_codes"] = {clipped_[0], clipped_[1]};
  Json fine = Json::array();
  for (const auto& per : fine_) {
    Json s = Json::array();
    for (const NoiseCurve& c : per) s.push_back({{"a", c.a}, {"b", c.b}, {"fit_rms_rel", c.fit_rms_rel}});
    fine.push_back(s);
  }
  j["fine"] = fine;
  Json pixel = Json::array();
  for (const NoiseCurve& c : pixel_) {
    Json sets = Json::array();
    for (const NoiseLevelSet& s : c.sets) sets.push_back({s.level, std::sqrt(s.variance), s.blocks});
    pixel.push_back({{"a", c.a}, {"b", c.b}, {"fit_rms_rel", c.fit_rms_rel}, {"sets", sets}});
  }
  j["pixel"] = pixel;
  return j;
}

NoiseModel estimate_noise(const cv::Mat& img, const NoiseOptions& o) {
  o.validate();
  if ((img.depth() != CV_8U && img.depth() != CV_16U) || (img.channels() != 1 && img.channels() != 3))
    throw_invalid("estimate_noise: expects an 8- or 16-bit image with 1 or 3 channels");
  // A small image (a thumbnail, a test pair) gets blocks that fit 4 times a side, down to the
  // smallest blocks the options allow.
  const int side = std::min(img.rows, img.cols);
  if (side < 4 * 8)
    throw_invalid("estimate_noise: the image (" + std::to_string(img.cols) + "x" + std::to_string(img.rows) +
                  ") is smaller than 4 blocks of 8 px a side");
  NoiseOptions fit = o;
  fit.pixel_block = std::min(o.pixel_block, side / 4);
  fit.block = std::min(o.block, std::max(4, side / 4));
  return img.depth() == CV_8U ? estimate_typed<std::uint8_t>(img, fit) : estimate_typed<std::uint16_t>(img, fit);
}

NoiseModel estimate_noise_linear(const cv::Mat& linear, const NoiseOptions& o) {
  if (linear.depth() != CV_32F || (linear.channels() != 1 && linear.channels() != 3))
    throw_invalid("estimate_noise_linear: expects a CV_32F image with 1 or 3 channels");
  return estimate_noise(to_srgb16(linear), o);
}

BandNoise estimate_band_noise(const cv::Mat& band, const cv::Mat& level, const NoiseOptions& o, const cv::Mat& subtract) {
  o.validate();
  if (band.depth() != CV_32F || level.type() != band.type() || level.size() != band.size() ||
      (band.channels() != 1 && band.channels() != 3) ||
      (!subtract.empty() && (subtract.type() != band.type() || subtract.size() != band.size())))
    throw_invalid("estimate_band_noise: expects a band, a level image (and what to subtract), CV_32F of one size, "
                  "1 or 3 channels");
  BandNoise out;
  const int B = o.block, C = band.channels();
  const int bw = band.cols / B, bh = band.rows / B;
  int stride = 1;
  while (o.max_blocks > 0 && double((bw + stride - 1) / stride) * ((bh + stride - 1) / stride) > o.max_blocks) ++stride;
  const int nx = (bw + stride - 1) / stride, ny = (bh + stride - 1) / stride;
  for (int c = 0; c < C; ++c) {
    std::vector<Block> blocks(static_cast<std::size_t>(nx) * ny);
    parallel_rows(ny, 4, [&](int j0, int j1) {
      for (int j = j0; j < j1; ++j)
        for (int i = 0; i < nx; ++i) {
          const int y0 = j * stride * B, x0 = i * stride * B;
          double sl = 0, sq = 0;
          for (int y = y0; y < y0 + B; ++y) {
            const float* b = band.ptr<float>(y) + static_cast<std::size_t>(x0) * C + c;
            const float* l = level.ptr<float>(y) + static_cast<std::size_t>(x0) * C + c;
            const float* m = subtract.empty() ? nullptr : subtract.ptr<float>(y) + static_cast<std::size_t>(x0) * C + c;
            for (int x = 0; x < B; ++x) {
              const double v = m ? double(b[x * C]) - m[x * C] : double(b[x * C]);
              sq += v * v;
              sl += l[x * C];
            }
          }
          Block& k = blocks[static_cast<std::size_t>(j) * nx + i];
          k.mean = float(sl / (B * B));
          k.stat = float(sq / (B * B));
        }
    });
    out.curves_.push_back(measure_curve(blocks, o.level_sets, [](double) { return 0.0; }));
    out.tables_.push_back(curve_table(out.curves_.back()));
  }
  return out;
}

}  // namespace dualcam::fusion
