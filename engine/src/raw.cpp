#include "dualcam/engine/raw.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <sstream>

#include <libraw/libraw.h>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"

namespace dualcam {

namespace {

// Linear sRGB (D65) <-> CIE XYZ, rows and columns in R, G, B order.
const cv::Matx33d kXyzToSrgb(3.2404542, -1.5371385, -0.4985314, -0.9692660, 1.8760108, 0.0415560, 0.0556434,
                             -0.2040259, 1.0572252);

// B,G,R order <-> R,G,B order of a 3x3 matrix.
cv::Matx33d swap_rb(const cv::Matx33d& m) {
  cv::Matx33d r;
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) r(i, j) = m(2 - i, 2 - j);
  return r;
}

void check_samples_fit(const cv::Mat& samples, int bits, const std::string& name, const char* hint) {
  double lo, hi;
  cv::minMaxLoc(samples, &lo, &hi);
  if (hi > std::ldexp(1.0, bits) - 1) {
    std::ostringstream os;
    os << "raw frame '" << name << "': a sample is " << hi << ", above the " << bits << "-bit range (" << hint << ")";
    throw_invalid(os.str());
  }
}

void apply_levels(RawFrame& f, const RawLayout& layout, const std::string& name) {
  if (layout.white_balance[0] > 0 && layout.white_balance[1] > 0 && layout.white_balance[2] > 0)
    f.white_balance = layout.white_balance * (1.0 / layout.white_balance[1]);
  if (std::isfinite(layout.baseline_exposure_ev)) f.baseline_exposure_ev = layout.baseline_exposure_ev;
  if (layout.black_level >= 0) f.black_level = layout.black_level;
  if (layout.white_level >= 0) f.white_level = layout.white_level;
  if (!(f.white_level > f.black_level)) {
    std::ostringstream os;
    os << "raw frame '" << name << "': the white level (" << f.white_level << ") must be above the black level ("
       << f.black_level << ")";
    throw_invalid(os.str());
  }
}

// ---- LibRaw ------------------------------------------------------------------------------------

CfaPattern pattern_from_colors(int c00, int c01, int c10, int c11) {
  // LibRaw's colour indices: 0 = R, 1 = G, 2 = B, 3 = the second G.
  auto g = [](int c) { return c == 1 || c == 3; };
  if (c00 == 0 && g(c01) && g(c10) && c11 == 2) return CfaPattern::Rggb;
  if (c00 == 2 && g(c01) && g(c10) && c11 == 0) return CfaPattern::Bggr;
  if (g(c00) && c01 == 0 && c10 == 2 && g(c11)) return CfaPattern::Grbg;
  if (g(c00) && c01 == 2 && c10 == 0 && g(c11)) return CfaPattern::Gbrg;
  return CfaPattern::None;
}

RawFrame read_libraw(const std::string& path) {
  auto raw = std::make_unique<LibRaw>();
  int rc = raw->open_file(path.c_str());
  if (rc == LIBRAW_IO_ERROR)
    throw_io("cannot read raw file '" + path + "': " + libraw_strerror(rc));
  if (rc != LIBRAW_SUCCESS) throw_invalid("cannot open raw file '" + path + "': " + libraw_strerror(rc));
  rc = raw->unpack();
  if (rc != LIBRAW_SUCCESS) throw_invalid("cannot unpack raw file '" + path + "': " + libraw_strerror(rc));
  const auto& d = raw->imgdata;
  const auto& s = d.sizes;
  if (!d.rawdata.raw_image)
    throw_invalid("raw file '" + path + "' holds no single-plane sensor samples (a demosaiced or multi-plane raw; " +
                  std::to_string(d.idata.colors) + " colours): dualcam reads CFA and mono frames");
  if (s.width < 2 || s.height < 2) throw_invalid("raw file '" + path + "' has no visible area");
  RawFrame f;
  const cv::Mat full(s.raw_height, s.raw_width, CV_16UC1, d.rawdata.raw_image, s.raw_pitch);
  f.samples = full(cv::Rect(s.left_margin, s.top_margin, s.width, s.height)).clone();
  f.bits = 16;
  for (int b = 8; b <= 16; ++b)
    if (std::ldexp(1.0, b) - 1 >= d.color.maximum) {
      f.bits = b;
      break;
    }
  if (d.idata.filters == 0 || d.idata.colors == 1) {
    f.cfa = CfaPattern::None;
  } else {
    // COLOR() takes visible-area coordinates.
    f.cfa = pattern_from_colors(raw->COLOR(0, 0), raw->COLOR(0, 1), raw->COLOR(1, 0), raw->COLOR(1, 1));
    if (f.cfa == CfaPattern::None)
      throw_invalid("raw file '" + path + "' has a colour filter that is not a 2x2 Bayer pattern (X-Trans or other): not supported");
  }
  // The black level: the common one plus the per-channel ones (averaged: one level per frame).
  double cblack = 0;
  for (int c = 0; c < 4; ++c) cblack += d.color.cblack[c];
  f.black_level = d.color.black + cblack / 4.0;
  f.white_level = d.color.maximum;
  if (d.color.cam_mul[0] > 0 && d.color.cam_mul[1] > 0 && d.color.cam_mul[2] > 0) {
    const double g = d.color.cam_mul[1];
    f.white_balance = cv::Vec3d(d.color.cam_mul[2] / g, 1.0, d.color.cam_mul[0] / g);
  }
  if (f.cfa != CfaPattern::None) {
    cv::Matx33d rgb_cam;
    double sum = 0;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) {
        rgb_cam(i, j) = d.color.rgb_cam[i][j];
        sum += std::abs(rgb_cam(i, j));
      }
    if (sum > 0) {
      f.camera_to_srgb = swap_rb(rgb_cam);
      f.has_color_matrix = true;
    }
  }
  const bool dng = d.idata.dng_version != 0;
  if (dng) f.baseline_exposure_ev = d.color.dng_levels.baseline_exposure;
  f.format = dng ? "dng" : "libraw (" + std::string(d.idata.make) + " " + std::string(d.idata.model) + ")";
  return f;
}

// ---- DNG writing -------------------------------------------------------------------------------

class TiffWriter {
 public:
  enum Type : std::uint16_t { Byte = 1, Ascii = 2, Short = 3, Long = 4, Rational = 5, SRational = 10 };

  void add(std::uint16_t tag, Type type, std::uint32_t count, std::vector<std::uint8_t> value) {
    entries_.push_back({tag, type, count, std::move(value)});
  }
  void shorts(std::uint16_t tag, std::initializer_list<std::uint16_t> v) {
    std::vector<std::uint8_t> b;
    for (auto x : v) put16(b, x);
    add(tag, Short, std::uint32_t(v.size()), b);
  }
  void longs(std::uint16_t tag, std::initializer_list<std::uint32_t> v) {
    std::vector<std::uint8_t> b;
    for (auto x : v) put32(b, x);
    add(tag, Long, std::uint32_t(v.size()), b);
  }
  void bytes(std::uint16_t tag, std::initializer_list<std::uint8_t> v) { add(tag, Byte, std::uint32_t(v.size()), v); }
  void ascii(std::uint16_t tag, const std::string& s) {
    std::vector<std::uint8_t> b(s.begin(), s.end());
    b.push_back(0);
    add(tag, Ascii, std::uint32_t(b.size()), b);
  }
  // Rationals with a fixed denominator of 10^6: integer levels exact, gains and matrices to 1e-6.
  void rationals(std::uint16_t tag, const std::vector<double>& v, bool is_signed) {
    std::vector<std::uint8_t> b;
    const double den = 1'000'000.0;
    for (double x : v) {
      const std::int64_t num = std::llround(x * den);
      put32(b, is_signed ? std::uint32_t(std::int32_t(num)) : std::uint32_t(num));
      put32(b, std::uint32_t(den));
    }
    add(tag, is_signed ? SRational : Rational, std::uint32_t(v.size()), b);
  }

  // The file: header, IFD (entries sorted by tag), the values that do not fit in an entry, then
  // the strip, whose offset StripOffsets (273) receives.
  std::vector<std::uint8_t> build(const std::vector<std::uint8_t>& strip) {
    longs(273, {0});  // StripOffsets, patched below
    std::sort(entries_.begin(), entries_.end(), [](const Entry& a, const Entry& b) { return a.tag < b.tag; });
    std::vector<std::uint8_t> out{'I', 'I', 42, 0};
    put32(out, 8);
    const std::size_t ifd_size = 2 + entries_.size() * 12 + 4;
    std::size_t extra = 8 + ifd_size;
    std::vector<std::uint8_t> tail;
    std::vector<std::uint8_t> ifd;
    put16(ifd, std::uint16_t(entries_.size()));
    std::size_t strip_entry = 0;
    for (std::size_t k = 0; k < entries_.size(); ++k) {
      const Entry& e = entries_[k];
      put16(ifd, e.tag);
      put16(ifd, e.type);
      put32(ifd, e.count);
      if (e.tag == 273) strip_entry = ifd.size();
      if (e.value.size() <= 4) {
        std::vector<std::uint8_t> v = e.value;
        v.resize(4, 0);
        ifd.insert(ifd.end(), v.begin(), v.end());
      } else {
        put32(ifd, std::uint32_t(extra + tail.size()));
        tail.insert(tail.end(), e.value.begin(), e.value.end());
        if (tail.size() % 2) tail.push_back(0);  // values start on a word boundary
      }
    }
    put32(ifd, 0);  // no next IFD
    const std::uint32_t strip_offset = std::uint32_t(extra + tail.size());
    for (int i = 0; i < 4; ++i) ifd[strip_entry + i] = std::uint8_t(strip_offset >> (8 * i));
    out.insert(out.end(), ifd.begin(), ifd.end());
    out.insert(out.end(), tail.begin(), tail.end());
    out.insert(out.end(), strip.begin(), strip.end());
    return out;
  }

  static void put16(std::vector<std::uint8_t>& b, std::uint16_t v) {
    b.push_back(std::uint8_t(v));
    b.push_back(std::uint8_t(v >> 8));
  }
  static void put32(std::vector<std::uint8_t>& b, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
  }

 private:
  struct Entry {
    std::uint16_t tag;
    Type type;
    std::uint32_t count;
    std::vector<std::uint8_t> value;
  };
  std::vector<Entry> entries_;
};

}  // namespace

const char* to_string(CfaPattern p) {
  switch (p) {
    case CfaPattern::None: return "none";
    case CfaPattern::Rggb: return "rggb";
    case CfaPattern::Bggr: return "bggr";
    case CfaPattern::Grbg: return "grbg";
    case CfaPattern::Gbrg: return "gbrg";
  }
  return "none";
}

CfaPattern parse_cfa_pattern(const std::string& text) {
  const std::string t = to_lower(text);
  for (CfaPattern p : {CfaPattern::None, CfaPattern::Rggb, CfaPattern::Bggr, CfaPattern::Grbg, CfaPattern::Gbrg})
    if (t == to_string(p)) return p;
  throw_invalid("the Bayer pattern must be rggb, bggr, grbg, gbrg (or none for a mono sensor), got '" + text + "'");
}

int cfa_channel(CfaPattern p, int row, int col) {
  const int site = (row & 1) * 2 + (col & 1);  // 0 = top-left, 1 = top-right, 2 = bottom-left, 3 = bottom-right
  // Channels of the four sites, BGR indices (R = 2, G = 1, B = 0).
  static const int kSites[5][4] = {{-1, -1, -1, -1}, {2, 1, 1, 0}, {0, 1, 1, 2}, {1, 2, 0, 1}, {1, 0, 2, 1}};
  return kSites[static_cast<int>(p)][site];
}

ByteOrder parse_byte_order(const std::string& text) {
  const std::string t = to_lower(text);
  if (t == "little") return ByteOrder::Little;
  if (t == "big") return ByteOrder::Big;
  throw_invalid("the byte order must be 'little' or 'big', got '" + text + "'");
}

void RawLayout::validate() const {
  if (bits != 0) check_range("raw bits (--raw-bits)", bits, 8, 16);
  check_range("raw width", width, 0, 1 << 16);
  check_range("raw height", height, 0, 1 << 16);
  if (stride < 0 || (width > 0 && stride > 0 && stride < std::int64_t(width) * container_bytes())) {
    std::ostringstream os;
    os << "the raw stride (--raw-stride) must be at least width x " << container_bytes() << " = "
       << std::int64_t(width) * container_bytes() << " bytes, got " << stride;
    throw_invalid(os.str());
  }
  if (cfa != CfaPattern::None && ((width % 2) || (height % 2)))
    throw_invalid("a Bayer frame must have an even width and height, got " + std::to_string(width) + "x" +
                  std::to_string(height));
  if (white_level >= 0 && black_level >= 0 && white_level <= black_level)
    throw_invalid("the white level (--white-level) must be above the black level (--black-level)");
}

Json RawFrame::to_json() const {
  return Json{{"format", format},
              {"width", samples.cols},
              {"height", samples.rows},
              {"bits", bits},
              {"bayer", to_string(cfa)},
              {"black_level", black_level},
              {"white_level", white_level},
              {"white_balance_bgr", {white_balance[0], white_balance[1], white_balance[2]}},
              {"has_color_matrix", has_color_matrix},
              {"baseline_exposure_ev", baseline_exposure_ev}};
}

namespace {

RawLayout layout_from_json(const Json& j, const std::string& what) {
  if (!j.is_object()) throw_invalid(what + ": expected an object of layout keys");
  RawLayout l;
  auto number = [&](const std::string& key, const Json& v) {
    if (!v.is_number()) throw_invalid(what + ": '" + key + "' must be a number");
    return v.get<double>();
  };
  auto integer = [&](const std::string& key, const Json& v) {
    const double x = number(key, v);
    if (x != std::floor(x) || std::abs(x) > 1e9) throw_invalid(what + ": '" + key + "' must be a whole number");
    return std::int64_t(x);
  };
  auto text = [&](const std::string& key, const Json& v) {
    if (!v.is_string()) throw_invalid(what + ": '" + key + "' must be a string");
    return v.get<std::string>();
  };
  for (const auto& [key, v] : j.items()) {
    if (key == "width") l.width = int(integer(key, v));
    else if (key == "height") l.height = int(integer(key, v));
    else if (key == "bits") l.bits = int(integer(key, v));
    else if (key == "stride") l.stride = integer(key, v);
    else if (key == "bayer") l.cfa = parse_cfa_pattern(text(key, v));
    else if (key == "byte_order") l.byte_order = parse_byte_order(text(key, v));
    else if (key == "black_level") l.black_level = number(key, v);
    else if (key == "white_level") l.white_level = number(key, v);
    else if (key == "baseline_exposure_ev") l.baseline_exposure_ev = number(key, v);
    else if (key == "white_balance_bgr") {
      if (!v.is_array() || v.size() != 3) throw_invalid(what + ": 'white_balance_bgr' must be 3 numbers (B, G, R)");
      for (int c = 0; c < 3; ++c) {
        l.white_balance[c] = number(key, v[c]);
        if (!(l.white_balance[c] > 0)) throw_invalid(what + ": 'white_balance_bgr' gains must be positive");
      }
    } else if (key == "file" || key == "format" || key == "has_color_matrix") {
      // descriptions written by dualcam simulate --raw
    } else {
      throw_invalid(what + ": unknown key '" + key + "'");
    }
  }
  try {
    l.validate();
  } catch (const Error& e) {
    throw_invalid(what + ": " + e.what());
  }
  return l;
}

}  // namespace

RawLayouts read_raw_layouts(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  Json j = Json::parse(bytes.begin(), bytes.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) throw_invalid("raw layout file '" + path + "' is not a JSON object");
  RawLayouts out;
  for (const auto& [key, v] : j.items()) {
    if (key == "mono") out.mono = layout_from_json(v, "raw layout file '" + path + "', mono");
    else if (key == "color" || key == "colour") out.color = layout_from_json(v, "raw layout file '" + path + "', color");
    else throw_invalid("raw layout file '" + path + "': unknown key '" + key + "' (expected mono and color)");
  }
  return out;
}

bool is_raw_file(const std::string& path) {
  static const char* kExt[] = {"raw", "dng", "nef", "nrw", "cr2", "cr3", "arw", "orf", "rw2", "raf", "pef", "srw"};
  const std::string e = lower_extension(path);
  return std::find_if(std::begin(kExt), std::end(kExt), [&](const char* k) { return e == k; }) != std::end(kExt);
}

RawFrame decode_headerless(const std::uint8_t* data, std::size_t size, const RawLayout& layout,
                           const std::string& name) {
  layout.validate();
  if (layout.width <= 0 || layout.height <= 0 || layout.bits == 0)
    throw_invalid("raw frame '" + name + "': a headerless frame needs its size and bits (--raw-size WxH --raw-bits N)");
  const std::int64_t row = layout.row_bytes();
  const std::int64_t used = std::int64_t(layout.width) * layout.container_bytes();
  const std::int64_t full = row * layout.height, last_short = row * (layout.height - 1) + used;
  if (std::int64_t(size) != full && std::int64_t(size) != last_short) {
    std::ostringstream os;
    os << "raw frame '" << name << "': the file has " << size << " bytes, but " << layout.width << "x" << layout.height
       << " at " << layout.bits << " bits (" << layout.container_bytes() << " byte(s) a sample, " << row
       << " bytes a row) needs " << full << "; check --raw-size, --raw-bits and --raw-stride";
    if (size > 0 && full > 0 && std::int64_t(size) % (std::int64_t(layout.width) * layout.container_bytes()) == 0)
      os << " (the file holds " << std::int64_t(size) / used << " such rows)";
    throw_invalid(os.str());
  }
  RawFrame f;
  f.samples.create(layout.height, layout.width, CV_16UC1);
  for (int y = 0; y < layout.height; ++y) {
    const std::uint8_t* p = data + std::int64_t(y) * row;
    std::uint16_t* o = f.samples.ptr<std::uint16_t>(y);
    if (layout.container_bytes() == 1) {
      for (int x = 0; x < layout.width; ++x) o[x] = p[x];
    } else if (layout.byte_order == ByteOrder::Little) {
      for (int x = 0; x < layout.width; ++x) o[x] = std::uint16_t(p[2 * x] | (p[2 * x + 1] << 8));
    } else {
      for (int x = 0; x < layout.width; ++x) o[x] = std::uint16_t((p[2 * x] << 8) | p[2 * x + 1]);
    }
  }
  check_samples_fit(f.samples, layout.bits, name, "check --raw-bits and --raw-endian");
  f.bits = layout.bits;
  f.cfa = layout.cfa;
  f.black_level = 0;
  f.white_level = std::ldexp(1.0, layout.bits) - 1;
  f.format = "headerless";
  apply_levels(f, layout, name);
  return f;
}

std::vector<std::uint8_t> encode_headerless(const RawFrame& frame, ByteOrder order) {
  if (frame.samples.type() != CV_16UC1) throw_invalid("encode_headerless: the samples must be CV_16UC1");
  const int cb = frame.bits <= 8 ? 1 : 2;
  std::vector<std::uint8_t> out(std::size_t(frame.samples.total()) * cb);
  std::size_t k = 0;
  for (int y = 0; y < frame.samples.rows; ++y) {
    const std::uint16_t* p = frame.samples.ptr<std::uint16_t>(y);
    for (int x = 0; x < frame.samples.cols; ++x) {
      if (cb == 1) {
        out[k++] = std::uint8_t(p[x]);
      } else if (order == ByteOrder::Little) {
        out[k++] = std::uint8_t(p[x]);
        out[k++] = std::uint8_t(p[x] >> 8);
      } else {
        out[k++] = std::uint8_t(p[x] >> 8);
        out[k++] = std::uint8_t(p[x]);
      }
    }
  }
  return out;
}

RawFrame read_raw(const std::string& path, const RawLayout& layout) {
  layout.validate();
  const std::string ext = lower_extension(path);
  RawFrame f;
  if (ext == "raw") {
    const std::vector<std::uint8_t> bytes = read_file_bytes(path);
    return decode_headerless(bytes.data(), bytes.size(), layout, path);
  }
  if (ext == "png" || ext == "tif" || ext == "tiff") {
    const cv::Mat img = read_image(path);
    if (img.channels() != 1)
      throw_invalid("raw frame '" + path + "': a mosaic must be a 1-channel image, this one has " +
                    std::to_string(img.channels()) + " channels");
    img.convertTo(f.samples, CV_16U);
    f.bits = layout.bits > 0 ? layout.bits : (img.depth() == CV_8U ? 8 : 16);
    check_samples_fit(f.samples, f.bits, path, "check --raw-bits");
    f.cfa = layout.cfa;
    if (f.cfa != CfaPattern::None && ((f.samples.cols % 2) || (f.samples.rows % 2)))
      throw_invalid("raw frame '" + path + "': a Bayer mosaic must have an even width and height");
    f.white_level = std::ldexp(1.0, f.bits) - 1;
    f.format = ext == "png" ? "png" : "tiff";
  } else if (is_raw_file(path)) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) throw_io("cannot read '" + path + "': no such file");
    f = read_libraw(path);
    if (layout.cfa != CfaPattern::None && layout.cfa != f.cfa)
      throw_invalid("raw frame '" + path + "': the file says its pattern is " + std::string(to_string(f.cfa)) +
                    ", not " + to_string(layout.cfa));
  } else {
    throw_invalid("'" + path + "' is not a raw frame: expected .raw (headerless), .dng, a camera raw file, or a "
                  "1-channel PNG/TIFF mosaic");
  }
  if (layout.width > 0 && layout.height > 0 && f.samples.size() != cv::Size(layout.width, layout.height))
    throw_invalid("raw frame '" + path + "' is " + std::to_string(f.samples.cols) + "x" + std::to_string(f.samples.rows) +
                  ", not the " + std::to_string(layout.width) + "x" + std::to_string(layout.height) + " given");
  apply_levels(f, layout, path);
  return f;
}

void write_dng(const std::string& path, const RawFrame& f, const std::string& camera_model) {
  if (f.samples.type() != CV_16UC1 || f.samples.empty()) throw_invalid("write_dng: the samples must be CV_16UC1");
  TiffWriter w;
  const auto width = std::uint32_t(f.samples.cols), height = std::uint32_t(f.samples.rows);
  w.longs(254, {0});            // NewSubFileType: the main image
  w.longs(256, {width});        // ImageWidth
  w.longs(257, {height});       // ImageLength
  w.shorts(258, {16});          // BitsPerSample
  w.shorts(259, {1});           // Compression: none
  w.shorts(262, {std::uint16_t(f.mono() ? 34892 : 32803)});  // LinearRaw (mono) or CFA
  w.ascii(271, "dualcam");      // Make
  w.ascii(272, camera_model);   // Model
  w.shorts(274, {1});           // Orientation
  w.shorts(277, {1});           // SamplesPerPixel
  w.longs(278, {height});       // RowsPerStrip
  w.longs(279, {width * height * 2});  // StripByteCounts
  w.shorts(284, {1});           // PlanarConfiguration
  w.ascii(305, "dualcam");      // Software
  if (!f.mono()) {
    w.shorts(33421, {2, 2});    // CFARepeatPatternDim
    std::vector<std::uint8_t> pattern;
    for (int s = 0; s < 4; ++s) pattern.push_back(std::uint8_t(2 - cfa_channel(f.cfa, s / 2, s % 2)));  // 0 R, 1 G, 2 B
    w.add(33422, TiffWriter::Byte, 4, pattern);  // CFAPattern
  }
  w.bytes(50706, {1, 4, 0, 0});  // DNGVersion
  w.bytes(50707, {1, 1, 0, 0});  // DNGBackwardVersion
  w.ascii(50708, camera_model);  // UniqueCameraModel
  if (!f.mono()) {
    w.bytes(50710, {0, 1, 2});   // CFAPlaneColor
    w.shorts(50711, {1});        // CFALayout: rectangular
  }
  w.rationals(50714, {f.black_level}, false);  // BlackLevel
  w.longs(50717, {std::uint32_t(std::lround(f.white_level))});  // WhiteLevel
  if (!f.mono()) {
    // ColorMatrix1 maps XYZ to the camera's raw (not white-balanced) space: the inverse of
    // camera_to_srgb after sRGB's XYZ matrix, then the camera neutral (1 / white balance) per row,
    // so that D65 white lands on the as-shot neutral.
    const cv::Matx33d srgb_to_cam = swap_rb(f.camera_to_srgb).inv();
    const cv::Vec3d neutral(1.0 / f.white_balance[2], 1.0 / f.white_balance[1], 1.0 / f.white_balance[0]);
    const cv::Matx33d cam_xyz = cv::Matx33d::diag(neutral) * srgb_to_cam * kXyzToSrgb;
    std::vector<double> m;
    for (int i = 0; i < 3; ++i)
      for (int j = 0; j < 3; ++j) m.push_back(cam_xyz(i, j));
    w.rationals(50721, m, true);                                   // ColorMatrix1
    w.rationals(50728, {neutral[0], neutral[1], neutral[2]}, false);  // AsShotNeutral (R, G, B)
    w.shorts(50778, {21});                                         // CalibrationIlluminant1: D65
  }
  w.rationals(50730, {f.baseline_exposure_ev}, true);  // BaselineExposure
  RawFrame wide = f;
  wide.bits = 16;  // the strip holds 16-bit samples whatever the sensor's depth
  const std::vector<std::uint8_t> strip = encode_headerless(wide, ByteOrder::Little);
  const std::vector<std::uint8_t> file = w.build(strip);
  write_file_atomic(path, file.data(), file.size());
}

cv::Mat raw_linear(const RawFrame& f) {
  if (f.samples.type() != CV_16UC1) throw_invalid("raw_linear: the samples must be CV_16UC1");
  cv::Mat out;
  const double scale = 1.0 / (f.white_level - f.black_level);
  f.samples.convertTo(out, CV_32F, scale, -f.black_level * scale);
  return out;
}

}  // namespace dualcam
