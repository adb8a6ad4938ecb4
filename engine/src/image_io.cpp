#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/png_encode.hpp"

#include <cctype>
#include <climits>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <cstring>
#include <memory>
#include <mutex>
#include <unistd.h>
#include <sstream>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/parallel.hpp"

namespace dualcam {
namespace {

std::uint32_t be32(const std::uint8_t* p) {
  return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) | p[3];
}
std::uint16_t be16(const std::uint8_t* p) { return std::uint16_t((p[0] << 8) | p[1]); }
std::uint16_t rd16(const std::uint8_t* p, bool le) { return le ? std::uint16_t(p[0] | (p[1] << 8)) : be16(p); }
std::uint32_t rd32(const std::uint8_t* p, bool le) {
  return le ? (std::uint32_t(p[0]) | (std::uint32_t(p[1]) << 8) | (std::uint32_t(p[2]) << 16) | (std::uint32_t(p[3]) << 24))
            : be32(p);
}

cv::Size peek_jpeg(const std::uint8_t* d, std::size_t n) {
  std::size_t i = 2;
  while (i + 9 < n) {
    if (d[i] != 0xFF) return {};
    std::uint8_t marker = d[i + 1];
    if (marker == 0xFF) { ++i; continue; }
    std::size_t len = be16(d + i + 2);
    bool sof = (marker >= 0xC0 && marker <= 0xCF) && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (sof) return {int(be16(d + i + 7)), int(be16(d + i + 5))};
    i += 2 + len;
  }
  return {};
}

cv::Size peek_tiff(const std::uint8_t* d, std::size_t n) {
  if (n < 8) return {};
  bool le = d[0] == 'I';
  std::size_t ifd = rd32(d + 4, le);
  if (ifd + 2 > n) return {};
  int count = rd16(d + ifd, le);
  long w = -1, h = -1;
  for (int k = 0; k < count; ++k) {
    std::size_t e = ifd + 2 + std::size_t(k) * 12;
    if (e + 12 > n) break;
    int tag = rd16(d + e, le), type = rd16(d + e + 2, le);
    long v = type == 3 ? rd16(d + e + 8, le) : long(rd32(d + e + 8, le));
    if (tag == 256) w = v;
    if (tag == 257) h = v;
  }
  if (w < 0 || h < 0) return {};
  return {int(std::min<long>(w, INT32_MAX)), int(std::min<long>(h, INT32_MAX))};
}

// Redirects file descriptor 2 into a temporary file for its lifetime (one at a time).
class StderrCapture {
 public:
  StderrCapture() : lock_(mutex()) {
    std::fflush(stderr);
    file_ = std::tmpfile();
    saved_ = ::dup(2);
    if (file_ && saved_ >= 0) ::dup2(::fileno(file_), 2);
  }
  ~StderrCapture() { restore(); if (file_) std::fclose(file_); }
  // The last non-empty line written while capturing.
  std::string last_line() {
    restore();
    if (!file_) return {};
    std::rewind(file_);
    std::string line, last;
    char buf[512];
    while (std::fgets(buf, sizeof buf, file_)) {
      line = buf;
      while (!line.empty() && (line.back() == '\n' || line.back() == '\r')) line.pop_back();
      if (!line.empty()) last = line;
    }
    return last;
  }

 private:
  static std::mutex& mutex() {
    static std::mutex m;
    return m;
  }
  void restore() {
    if (saved_ >= 0) {
      std::fflush(stderr);
      ::dup2(saved_, 2);
      ::close(saved_);
      saved_ = -1;
    }
  }
  std::lock_guard<std::mutex> lock_;
  std::FILE* file_ = nullptr;
  int saved_ = -1;
};

// A PNG is a signature and a chain of chunks (4-byte length, 4-byte type, data, 4-byte CRC).
// A chunk whose length runs past the end of the file makes the decoder allocate that length
// before it notices (a 300-byte file claiming a 1.8 GB text chunk cost 1.8 GB of memory):
// refuse such files before decoding.
void check_png_chunks(const std::uint8_t* d, std::size_t n, const std::string& name) {
  std::size_t pos = 8;
  while (pos + 8 <= n) {
    const std::uint64_t len = be32(d + pos);
    const std::string type(reinterpret_cast<const char*>(d + pos + 4), 4);
    if (len > (1u << 31) - 1 || pos + 12 + len > n)
      throw_invalid("cannot decode image '" + name + "': corrupt or truncated PNG (chunk '" + type + "' claims " +
                    std::to_string(len) + " bytes, the file has " + std::to_string(n - std::min(n, pos + 12)) +
                    " left)");
    pos += 12 + len;
    if (type == "IEND") return;
  }
  throw_invalid("cannot decode image '" + name + "': truncated PNG (no IEND chunk)");
}

}  // namespace

cv::Size peek_image_size(const std::uint8_t* d, std::size_t n) {
  static const std::uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  if (n >= 24 && std::memcmp(d, png_sig, 8) == 0) {
    std::uint32_t w = be32(d + 16), h = be32(d + 20);
    return {int(std::min<std::uint32_t>(w, INT32_MAX)), int(std::min<std::uint32_t>(h, INT32_MAX))};
  }
  if (n >= 4 && d[0] == 0xFF && d[1] == 0xD8) return peek_jpeg(d, n);
  if (n >= 8 && ((d[0] == 'I' && d[1] == 'I' && d[2] == 42) || (d[0] == 'M' && d[1] == 'M' && d[3] == 42)))
    return peek_tiff(d, n);
  if (n >= 3 && d[0] == 'P' && (d[1] == 'f' || d[1] == 'F')) {
    std::istringstream in(std::string(reinterpret_cast<const char*>(d), std::min<std::size_t>(n, 256)));
    std::string magic;
    long w = 0, h = 0;
    if (in >> magic >> w >> h && w > 0 && h > 0)
      return {int(std::min<long>(w, INT32_MAX)), int(std::min<long>(h, INT32_MAX))};
  }
  return {};
}

cv::Mat read_image(const std::string& path, const ImageReadOptions& options) {
  std::vector<std::uint8_t> bytes = read_file_bytes(path);
  return decode_image(bytes.data(), bytes.size(), path, options);
}

cv::Mat decode_image(const std::uint8_t* data, std::size_t size, const std::string& path,
                     const ImageReadOptions& options) {
  if (size == 0) throw_invalid("cannot decode image '" + path + "': the file is empty");
  if (size > std::size_t(INT32_MAX)) throw_invalid("cannot decode image '" + path + "': the file is larger than 2 GiB");
  cv::Size claimed = peek_image_size(data, size);
  if (options.max_pixels > 0 && std::int64_t(claimed.width) * claimed.height > options.max_pixels) {
    std::ostringstream os;
    os << "refusing image '" << path << "': its header claims " << claimed.width << "x" << claimed.height
       << " pixels, more than the max_pixels limit of " << options.max_pixels;
    throw_invalid(os.str());
  }
  // Only PNG, JPEG and TIFF reach OpenCV's decoders: its other decoders (found by fuzzing) can
  // abort the process on a hostile file, and dualcam documents only these three.
  static const std::uint8_t png_sig[8] = {0x89, 'P', 'N', 'G', 0x0D, 0x0A, 0x1A, 0x0A};
  const bool png = size >= 8 && std::memcmp(data, png_sig, 8) == 0;
  const bool jpeg = size >= 3 && data[0] == 0xFF && data[1] == 0xD8 && data[2] == 0xFF;
  const bool tiff = size >= 4 && ((data[0] == 'I' && data[1] == 'I' && data[2] == 42 && data[3] == 0) ||
                                  (data[0] == 'M' && data[1] == 'M' && data[2] == 0 && data[3] == 42));
  if (!png && !jpeg && !tiff)
    throw_invalid("cannot decode image '" + path + "': not a PNG, JPEG or TIFF file");
  if (png) check_png_chunks(data, size, path);
  cv::Mat img;
  std::string decoder_message;
  {
    // libpng and libjpeg print their complaints straight to stderr; catch them so the user
    // gets one line, with the decoder's reason in it.
    StderrCapture capture;
    try {
      img = cv::imdecode(cv::Mat(1, int(size), CV_8U, const_cast<std::uint8_t*>(data)),
                         cv::IMREAD_ANYDEPTH | cv::IMREAD_ANYCOLOR);
    } catch (const cv::Exception&) {
      img.release();
    }
    decoder_message = capture.last_line();
  }
  if (img.empty())
    throw_invalid("cannot decode image '" + path + "': " +
                  (decoder_message.empty() ? std::string("corrupt, truncated or not a PNG/JPEG/TIFF file")
                                           : "corrupt or truncated (" + decoder_message + ")"));
  if (img.depth() != CV_8U && img.depth() != CV_16U)
    throw_invalid("unsupported pixel type in '" + path + "': only 8- and 16-bit images are read");
  if (img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2BGR);
  if (img.channels() == 2) throw_invalid("unsupported image '" + path + "': 2 channels (grey + alpha)");
  return img;
}

void write_image(const std::string& path, const cv::Mat& image) {
  std::string ext = lower_extension(path);
  if (ext != "png" && ext != "jpg" && ext != "jpeg" && ext != "tif" && ext != "tiff")
    throw_invalid("cannot write '" + path + "': unsupported extension (use .png, .jpg or .tif)");
  if (image.empty()) throw_invalid("cannot write '" + path + "': empty image");
  if (image.depth() != CV_8U && image.depth() != CV_16U)
    throw_invalid("cannot write '" + path + "': only 8- and 16-bit images are written");
  if ((ext == "jpg" || ext == "jpeg") && image.depth() != CV_8U)
    throw_invalid("cannot write '" + path + "': JPEG holds only 8-bit images");
  check_output_path(path);
  std::vector<std::uint8_t> buf;
  if (ext == "png") {
    buf = encode_png(image);  // on every core (png_encode.hpp)
  } else if (ext == "jpg" || ext == "jpeg") {
    buf = encode_jpeg(image);
  } else if (!cv::imencode("." + ext, image, buf)) {
    throw_io("cannot encode '" + path + "'");
  }
  write_file_atomic(path, buf.data(), buf.size());
}

std::vector<std::uint8_t> encode_jpeg(const cv::Mat& image8, int quality) {
  if (image8.empty() || image8.depth() != CV_8U || (image8.channels() != 1 && image8.channels() != 3))
    throw_invalid("a JPEG holds 8-bit grey or colour images");
  std::vector<std::uint8_t> buf;
  if (!cv::imencode(".jpg", image8, buf, {cv::IMWRITE_JPEG_QUALITY, std::clamp(quality, 0, 100)}))
    throw_io("cannot encode a JPEG");
  return buf;
}

namespace {

// A PFM row (RGB or grey, 4-byte floats in the file's byte order) <-> an image row (BGR or grey):
// the same copy either way, since swapping the bytes and the order of R and B each undo themselves.
bool host_little_endian() {
  const std::uint32_t one = 1;
  std::uint8_t b;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

void copy_pfm_row(const void* from, void* to, int w, int channels, bool file_little_endian) {
  const bool swap = file_little_endian != host_little_endian();
  if (channels == 1 && !swap) {
    std::memcpy(to, from, std::size_t(w) * 4);
    return;
  }
  const auto* src = static_cast<const std::uint8_t*>(from);
  auto* dst = static_cast<std::uint8_t*>(to);
  for (int x = 0; x < w; ++x)
    for (int c = 0; c < channels; ++c) {
      std::uint32_t u;
      std::memcpy(&u, src + 4 * (std::size_t(x) * channels + c), 4);
      if (swap) u = (u >> 24) | ((u >> 8) & 0xFF00u) | ((u << 8) & 0xFF0000u) | (u << 24);
      std::memcpy(dst + 4 * (std::size_t(x) * channels + (channels == 3 ? 2 - c : c)), &u, 4);
    }
}

}  // namespace

cv::Mat decode_pfm(const std::uint8_t* data, std::size_t size, const std::string& name) {
  // Header: three whitespace-separated tokens after the magic, then exactly one whitespace byte.
  std::size_t pos = 0;
  auto token = [&](std::string& out) {
    while (pos < size && std::isspace(data[pos])) ++pos;
    std::size_t start = pos;
    while (pos < size && !std::isspace(data[pos])) ++pos;
    out.assign(reinterpret_cast<const char*>(data) + start, pos - start);
    return !out.empty();
  };
  std::string magic, ws, hs, ss;
  if (!token(magic) || (magic != "Pf" && magic != "PF")) throw_invalid("cannot read PFM '" + name + "': not a PFM file");
  if (!token(ws) || !token(hs) || !token(ss)) throw_invalid("cannot read PFM '" + name + "': truncated header");
  ++pos;  // the single whitespace byte after the scale
  long w = 0, h = 0;
  double scale = 0;
  try {
    std::size_t used = 0;
    w = std::stol(ws, &used);
    if (used != ws.size()) throw std::invalid_argument("w");
    h = std::stol(hs, &used);
    if (used != hs.size()) throw std::invalid_argument("h");
    scale = std::stod(ss, &used);
    if (used != ss.size()) throw std::invalid_argument("s");
  } catch (const std::exception&) {
    throw_invalid("cannot read PFM '" + name + "': malformed header");
  }
  if (w <= 0 || h <= 0 || w > 200000 || h > 200000 || scale == 0 || !std::isfinite(scale))
    throw_invalid("cannot read PFM '" + name + "': invalid size or scale in header");
  int channels = magic == "PF" ? 3 : 1;
  std::size_t need = std::size_t(w) * std::size_t(h) * channels * 4;
  if (pos > size || size - pos < need) throw_invalid("cannot read PFM '" + name + "': truncated pixel data");
  const bool little = scale < 0;
  cv::Mat img(int(h), int(w), CV_32FC(channels));
  const std::uint8_t* src = data + pos;
  const std::size_t row_bytes = std::size_t(w) * channels * 4;
  // PFM stores the bottom row first, RGB; rows copied in parallel, in the file's byte order.
  parallel_rows(img.rows, 64, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r)
      copy_pfm_row(src + std::size_t(img.rows - 1 - r) * row_bytes, img.ptr<float>(r), int(w), channels, little);
  });
  return img;
}

cv::Mat read_pfm(const std::string& path) {
  std::vector<std::uint8_t> bytes = read_file_bytes(path);
  return decode_pfm(bytes.data(), bytes.size(), path);
}

void write_pfm(const std::string& path, const cv::Mat& image, bool little_endian) {
  if (image.empty() || image.depth() != CV_32F || (image.channels() != 1 && image.channels() != 3))
    throw_invalid("cannot write PFM '" + path + "': needs a 1- or 3-channel float image");
  std::ostringstream header;
  header << (image.channels() == 3 ? "PF" : "Pf") << "\n" << image.cols << " " << image.rows << "\n"
         << (little_endian ? "-1.0" : "1.0") << "\n";
  const std::string head = header.str();
  const std::size_t row_bytes = std::size_t(image.cols) * image.channels() * 4;
  // Not zero-filled first: every byte is written below.
  std::unique_ptr<std::uint8_t[]> out(new std::uint8_t[head.size() + row_bytes * image.rows]);
  std::memcpy(out.get(), head.data(), head.size());
  std::uint8_t* body = out.get() + head.size();
  parallel_rows(image.rows, 64, [&](int r0, int r1) {
    for (int r = r0; r < r1; ++r)
      copy_pfm_row(image.ptr<float>(image.rows - 1 - r), body + std::size_t(r) * row_bytes, image.cols,
                   image.channels(), little_endian);
  });
  write_file_atomic(path, out.get(), head.size() + row_bytes * image.rows);
}

}  // namespace dualcam
