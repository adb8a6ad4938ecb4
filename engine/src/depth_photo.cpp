// Depth photos (depth_photo.hpp): GDepth/GImage/GFocus XMP in standard + extended XMP APP1
// segments, and the Dynamic Depth 1.0 container, read and written by dualcam's own code.
#include "dualcam/engine/depth_photo.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <limits>
#include <map>
#include <memory>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/png_encode.hpp"

namespace dualcam {

const char* to_string(DepthFormat format) {
  return format == DepthFormat::RangeInverse ? "RangeInverse" : "RangeLinear";
}

// ---------------------------------------------------------------- base64, MD5

std::string base64_encode(const std::uint8_t* data, std::size_t size) {
  static const char* tab = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((size + 2) / 3 * 4);
  std::size_t i = 0;
  for (; i + 2 < size; i += 3) {
    const std::uint32_t v = (std::uint32_t(data[i]) << 16) | (std::uint32_t(data[i + 1]) << 8) | data[i + 2];
    out += tab[v >> 18];
    out += tab[(v >> 12) & 63];
    out += tab[(v >> 6) & 63];
    out += tab[v & 63];
  }
  if (i < size) {
    std::uint32_t v = std::uint32_t(data[i]) << 16;
    if (i + 1 < size) v |= std::uint32_t(data[i + 1]) << 8;
    out += tab[v >> 18];
    out += tab[(v >> 12) & 63];
    out += i + 1 < size ? tab[(v >> 6) & 63] : '=';
    out += '=';
  }
  return out;
}

std::vector<std::uint8_t> base64_decode(const std::string& text) {
  std::vector<std::uint8_t> out;
  out.reserve(text.size() / 4 * 3);
  std::uint32_t acc = 0;
  int bits = 0;
  bool ended = false;
  for (char c : text) {
    int v;
    if (c >= 'A' && c <= 'Z') v = c - 'A';
    else if (c >= 'a' && c <= 'z') v = c - 'a' + 26;
    else if (c >= '0' && c <= '9') v = c - '0' + 52;
    else if (c == '+') v = 62;
    else if (c == '/') v = 63;
    else if (c == '=') { ended = true; continue; }
    else if (c == ' ' || c == '\n' || c == '\r' || c == '\t') continue;
    else throw_invalid(std::string("bad base64 data (character '") + c + "')");
    if (ended) throw_invalid("bad base64 data (text after '=')");
    acc = (acc << 6) | std::uint32_t(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(std::uint8_t((acc >> bits) & 0xFF));
    }
  }
  return out;
}

namespace {

// MD5 (RFC 1321).
struct Md5 {
  std::uint32_t h[4] = {0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476};
  static std::uint32_t rotl(std::uint32_t x, int c) { return (x << c) | (x >> (32 - c)); }
  void block(const std::uint8_t* p) {
    static const std::uint32_t K[64] = {
        0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
        0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
        0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
        0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
        0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
        0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
        0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
        0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391};
    static const int S[64] = {7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9,  14, 20, 5, 9,
                              14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
                              4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21};
    std::uint32_t m[16];
    for (int i = 0; i < 16; ++i)
      m[i] = std::uint32_t(p[4 * i]) | (std::uint32_t(p[4 * i + 1]) << 8) | (std::uint32_t(p[4 * i + 2]) << 16) |
             (std::uint32_t(p[4 * i + 3]) << 24);
    std::uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; ++i) {
      std::uint32_t f;
      int g;
      if (i < 16) { f = (b & c) | (~b & d); g = i; }
      else if (i < 32) { f = (d & b) | (~d & c); g = (5 * i + 1) % 16; }
      else if (i < 48) { f = b ^ c ^ d; g = (3 * i + 5) % 16; }
      else { f = c ^ (b | ~d); g = (7 * i) % 16; }
      const std::uint32_t t = d;
      d = c;
      c = b;
      b = b + rotl(a + f + K[i] + m[g], S[i]);
      a = t;
    }
    h[0] += a; h[1] += b; h[2] += c; h[3] += d;
  }
};

}  // namespace

std::string md5_hex(const std::uint8_t* data, std::size_t size) {
  Md5 md;
  std::size_t i = 0;
  for (; i + 64 <= size; i += 64) md.block(data + i);
  std::uint8_t tail[128] = {};
  const std::size_t rest = size - i;
  if (rest > 0) std::memcpy(tail, data + i, rest);  // (data may be null when size is 0)
  tail[rest] = 0x80;
  const std::size_t tlen = rest + 1 + 8 <= 64 ? 64 : 128;
  const std::uint64_t bits = std::uint64_t(size) * 8;
  for (int k = 0; k < 8; ++k) tail[tlen - 8 + k] = std::uint8_t(bits >> (8 * k));
  md.block(tail);
  if (tlen == 128) md.block(tail + 64);
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (std::uint32_t w : md.h)
    for (int k = 0; k < 4; ++k) {
      const std::uint8_t b = std::uint8_t(w >> (8 * k));
      out += hex[b >> 4];
      out += hex[b & 15];
    }
  return out;
}

// ---------------------------------------------------------------- disparity <-> depth map

void DepthEncodeOptions::validate() const {
  if (!(disparity_scale >= 0) || !std::isfinite(disparity_scale))
    throw_invalid("the disparity scale of a depth photo must be finite and >= 0, got " + std::to_string(disparity_scale));
  if (!confidence.empty() && confidence.type() != CV_32FC1)
    throw_invalid("the confidence map of a depth photo must be CV_32FC1");
}

DepthMapData encode_disparity(const cv::Mat& disparity, const DepthEncodeOptions& options) {
  options.validate();
  if (disparity.empty() || disparity.type() != CV_32FC1) throw_invalid("a depth photo's disparity must be CV_32FC1");
  if (!options.confidence.empty() && options.confidence.size() != disparity.size())
    throw_invalid("the confidence map is not the size of the disparity");
  double lo = std::numeric_limits<double>::infinity(), hi = -lo, lo_positive = lo;
  std::size_t known = 0, nonpositive = 0;
  for (int y = 0; y < disparity.rows; ++y) {
    const float* d = disparity.ptr<float>(y);
    for (int x = 0; x < disparity.cols; ++x) {
      if (!std::isfinite(d[x])) continue;
      ++known;
      lo = std::min(lo, double(d[x]));
      hi = std::max(hi, double(d[x]));
      if (d[x] > 0) lo_positive = std::min(lo_positive, double(d[x]));
      else ++nonpositive;
    }
  }
  if (!known) throw_invalid("the disparity has no known value: there is no depth to embed");
  // A metric depth needs d > 0 (a finite Z). A few pixels at or below 0 (matching failures, points
  // at infinity: at most kMaxNonpositive of the known ones) are written as unknown and the depth
  // stays metric; more make it relative, with an offset that keeps every disparity.
  const double kMaxNonpositive = 0.01;
  const bool drop_nonpositive = options.disparity_scale > 0 && nonpositive > 0 && lo_positive < hi &&
                                double(nonpositive) <= kMaxNonpositive * double(known);
  if (drop_nonpositive) lo = lo_positive;
  auto known_at = [&](float d) { return std::isfinite(d) && (!drop_nonpositive || d > 0); };
  const bool any_unknown = known < std::size_t(disparity.total()) || drop_nonpositive;
  if (hi - lo < 1e-3) {  // a constant disparity: near and far must differ
    lo = lo > 0.5 || !(lo > 0) ? lo - 0.5 : lo / 2;
    hi += 0.5;
  }
  DepthMapData m;
  m.format = DepthFormat::RangeInverse;
  m.mime = "image/png";
  const double offset = lo > 0 ? 0.0 : lo - (hi - lo);
  const bool metric = options.disparity_scale > 0 && offset == 0.0;
  const double k = metric ? options.disparity_scale : hi - offset;
  m.metric = metric;
  m.disparity_scale = k;
  m.disparity_offset = offset;
  m.near = k / (hi - offset);
  m.far = k / (lo - offset);
  cv::Mat v(disparity.size(), CV_16UC1);
  const double step = 65535.0 / (hi - lo);
  for (int y = 0; y < disparity.rows; ++y) {
    const float* d = disparity.ptr<float>(y);
    std::uint16_t* o = v.ptr<std::uint16_t>(y);
    for (int x = 0; x < disparity.cols; ++x)
      o[x] = known_at(d[x]) ? std::uint16_t(std::clamp(std::lround((hi - d[x]) * step), 0L, 65535L)) : 65535;
  }
  m.data = encode_png(v);
  if (!options.confidence.empty() || any_unknown) {
    cv::Mat c(disparity.size(), CV_8UC1);
    for (int y = 0; y < disparity.rows; ++y) {
      const float* d = disparity.ptr<float>(y);
      const float* in = options.confidence.empty() ? nullptr : options.confidence.ptr<float>(y);
      std::uint8_t* o = c.ptr<std::uint8_t>(y);
      for (int x = 0; x < disparity.cols; ++x) {
        if (!known_at(d[x])) o[x] = 0;
        else if (!in) o[x] = 255;
        else o[x] = std::uint8_t(std::clamp(std::lround((std::isfinite(in[x]) ? in[x] : 0.f) * 255.0), 1L, 255L));
      }
    }
    m.confidence_mime = "image/png";
    m.confidence = encode_png(c);
  }
  return m;
}

namespace {
void check_near_far(const DepthMapData& m) {
  if (!(m.near > 0) || !(m.far > 0) || !std::isfinite(m.near) || !std::isfinite(m.far) || m.near == m.far)
    throw_invalid("the depth map's near/far (" + std::to_string(m.near) + ", " + std::to_string(m.far) +
                  ") make no depth: they must be positive and differ");
}
}  // namespace

double disparity_of_depth(const DepthMapData& m, double z) {
  return m.disparity_scale.value_or(1.0) / z + m.disparity_offset.value_or(0.0);
}
double depth_of_disparity(const DepthMapData& m, double d) {
  return m.disparity_scale.value_or(1.0) / (d - m.disparity_offset.value_or(0.0));
}

namespace {
// A grey image embedded in a depth photo, decoded by image_io's decode_image (its header's size
// checked before decoding, only PNG, JPEG and TIFF handed to OpenCV's decoders), colour reduced to
// grey.
cv::Mat decode_grey(const std::vector<std::uint8_t>& bytes, const char* what) {
  cv::Mat img = decode_image(bytes.data(), bytes.size(), std::string("the depth photo's ") + what);
  if (img.channels() == 3) cv::cvtColor(img, img, cv::COLOR_BGR2GRAY);
  else if (img.channels() == 4) cv::cvtColor(img, img, cv::COLOR_BGRA2GRAY);
  return img;
}
}  // namespace

cv::Mat decode_disparity(const DepthMapData& m) {
  check_near_far(m);
  if (m.data.empty()) throw_invalid("the depth photo's depth image is empty");
  const cv::Mat raw = decode_grey(m.data, "depth image");  // 8 or 16 bit
  const double top = raw.depth() == CV_8U ? 255.0 : 65535.0;
  cv::Mat conf;
  if (!m.confidence.empty()) {
    try {
      conf = decode_grey(m.confidence, "confidence map");
      if (conf.depth() == CV_16U) conf.convertTo(conf, CV_8U, 1.0 / 257.0);
    } catch (const Error&) {
      conf.release();  // a confidence map that does not decode: not used
    }
    if (conf.size() != raw.size()) conf.release();  // a confidence of another size: not used
  }
  const double k = m.disparity_scale.value_or(1.0), o = m.disparity_offset.value_or(0.0);
  cv::Mat out(raw.size(), CV_32FC1);
  for (int y = 0; y < raw.rows; ++y) {
    float* d = out.ptr<float>(y);
    const std::uint8_t* c = conf.empty() ? nullptr : conf.ptr<std::uint8_t>(y);
    for (int x = 0; x < raw.cols; ++x) {
      const double dn = (raw.depth() == CV_8U ? raw.ptr<std::uint8_t>(y)[x] : raw.ptr<std::uint16_t>(y)[x]) / top;
      if (c && c[x] == 0) {
        d[x] = std::numeric_limits<float>::quiet_NaN();
        continue;
      }
      if (m.format == DepthFormat::RangeInverse) {
        // 1/Z = 1/near - dn (1/near - 1/far): linear in dn, computed without forming Z
        const double inv_z = 1.0 / m.near - dn * (1.0 / m.near - 1.0 / m.far);
        d[x] = float(k * inv_z + o);
      } else {
        const double z = dn * (m.far - m.near) + m.near;
        d[x] = float(k / z + o);
      }
    }
  }
  return out;
}

// ---------------------------------------------------------------- a small XML reader for XMP

namespace {

struct XmlNode {
  std::string ns, local;  // expanded name
  std::vector<std::pair<std::pair<std::string, std::string>, std::string>> attrs;  // ((ns, local), value)
  std::vector<std::unique_ptr<XmlNode>> children;
  std::string text;
  const std::string* attr(const std::string& ns_uri, const std::string& name) const {
    for (const auto& a : attrs)
      if (a.first.first == ns_uri && a.first.second == name) return &a.second;
    return nullptr;
  }
};

std::string xml_unescape(const std::string& s) {
  if (s.find('&') == std::string::npos) return s;
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '&') {
      out += s[i];
      continue;
    }
    const std::size_t e = s.find(';', i);
    if (e == std::string::npos) {
      out += s[i];
      continue;
    }
    const std::string ent = s.substr(i + 1, e - i - 1);
    if (ent == "amp") out += '&';
    else if (ent == "lt") out += '<';
    else if (ent == "gt") out += '>';
    else if (ent == "quot") out += '"';
    else if (ent == "apos") out += '\'';
    else if (!ent.empty() && ent[0] == '#') {
      const long c = ent.size() > 1 && (ent[1] == 'x' || ent[1] == 'X') ? std::strtol(ent.c_str() + 2, nullptr, 16)
                                                                         : std::strtol(ent.c_str() + 1, nullptr, 10);
      if (c < 0x80) out += char(c);
      else if (c < 0x800) { out += char(0xC0 | (c >> 6)); out += char(0x80 | (c & 63)); }
      else { out += char(0xE0 | (c >> 12)); out += char(0x80 | ((c >> 6) & 63)); out += char(0x80 | (c & 63)); }
    } else {
      out += s.substr(i, e - i + 1);
    }
    i = e;
  }
  return out;
}

// Parses the XML of an XMP packet into a tree (namespaces resolved); lenient about what XMP does
// not use (DTDs), strict enough to refuse unbalanced tags.
class XmlParser {
 public:
  XmlParser(const std::string& text, const std::string& name) : s_(text), name_(name) {}
  std::unique_ptr<XmlNode> parse() {
    auto root = std::make_unique<XmlNode>();
    std::vector<std::map<std::string, std::string>> scopes{{{"xml", "http://www.w3.org/XML/1998/namespace"}}};
    std::vector<XmlNode*> stack{root.get()};
    std::vector<std::string> qnames{""};
    while (p_ < s_.size()) {
      const std::size_t lt = s_.find('<', p_);
      if (lt == std::string::npos) break;
      if (lt > p_) stack.back()->text += xml_unescape(s_.substr(p_, lt - p_));
      if (s_.compare(lt, 4, "<!--") == 0) { p_ = find_or_fail("-->", lt) + 3; continue; }
      if (s_.compare(lt, 2, "<?") == 0) { p_ = find_or_fail("?>", lt) + 2; continue; }
      if (s_.compare(lt, 9, "<![CDATA[") == 0) {
        const std::size_t e = find_or_fail("]]>", lt);
        stack.back()->text += s_.substr(lt + 9, e - lt - 9);
        p_ = e + 3;
        continue;
      }
      if (s_.compare(lt, 2, "<!") == 0) { p_ = find_or_fail(">", lt) + 1; continue; }
      if (s_.compare(lt, 2, "</") == 0) {
        const std::size_t gt = find_or_fail(">", lt);
        std::string q = trim(s_.substr(lt + 2, gt - lt - 2));
        if (stack.size() < 2 || q != qnames.back()) fail("a closing tag </" + q + "> that does not match");
        stack.pop_back();
        qnames.pop_back();
        scopes.pop_back();
        p_ = gt + 1;
        continue;
      }
      // start tag
      std::size_t i = lt + 1;
      const std::size_t qs = i;
      while (i < s_.size() && !is_space(s_[i]) && s_[i] != '>' && s_[i] != '/') ++i;
      const std::string q = s_.substr(qs, i - qs);
      std::vector<std::pair<std::string, std::string>> raw;
      bool empty = false;
      for (;;) {
        while (i < s_.size() && is_space(s_[i])) ++i;
        if (i >= s_.size()) fail("a tag that is not closed");
        if (s_[i] == '>') { ++i; break; }
        if (s_[i] == '/') {
          if (i + 1 >= s_.size() || s_[i + 1] != '>') fail("a bad '/' in a tag");
          empty = true;
          i += 2;
          break;
        }
        const std::size_t as = i;
        while (i < s_.size() && s_[i] != '=' && !is_space(s_[i]) && s_[i] != '>') ++i;
        const std::string an = s_.substr(as, i - as);
        while (i < s_.size() && is_space(s_[i])) ++i;
        if (i >= s_.size() || s_[i] != '=') fail("an attribute without a value (" + an + ")");
        ++i;
        while (i < s_.size() && is_space(s_[i])) ++i;
        if (i >= s_.size() || (s_[i] != '"' && s_[i] != '\'')) fail("an attribute value without quotes (" + an + ")");
        const char quote = s_[i];
        const std::size_t e = s_.find(quote, i + 1);
        if (e == std::string::npos) fail("an attribute value that is not closed (" + an + ")");
        raw.emplace_back(an, xml_unescape(s_.substr(i + 1, e - i - 1)));
        i = e + 1;
      }
      p_ = i;
      std::map<std::string, std::string> scope = scopes.back();
      for (const auto& [an, av] : raw) {
        if (an == "xmlns") scope[""] = av;
        else if (an.compare(0, 6, "xmlns:") == 0) scope[an.substr(6)] = av;
      }
      auto node = std::make_unique<XmlNode>();
      split(q, scope, true, node->ns, node->local);
      for (const auto& [an, av] : raw) {
        if (an == "xmlns" || an.compare(0, 6, "xmlns:") == 0) continue;
        std::pair<std::string, std::string> key;
        split(an, scope, false, key.first, key.second);
        node->attrs.emplace_back(key, av);
      }
      XmlNode* raw_node = node.get();
      stack.back()->children.push_back(std::move(node));
      if (!empty) {
        stack.push_back(raw_node);
        qnames.push_back(q);
        scopes.push_back(std::move(scope));
      }
    }
    if (stack.size() != 1) fail("<" + qnames.back() + "> is not closed");
    return root;
  }

 private:
  static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }
  static std::string trim(const std::string& t) {
    std::size_t a = 0, b = t.size();
    while (a < b && is_space(t[a])) ++a;
    while (b > a && is_space(t[b - 1])) --b;
    return t.substr(a, b - a);
  }
  void split(const std::string& q, const std::map<std::string, std::string>& scope, bool element, std::string& ns,
             std::string& local) const {
    const std::size_t c = q.find(':');
    const std::string prefix = c == std::string::npos ? "" : q.substr(0, c);
    local = c == std::string::npos ? q : q.substr(c + 1);
    if (prefix.empty() && !element) return;  // unprefixed attributes have no namespace
    const auto it = scope.find(prefix);
    if (it != scope.end()) ns = it->second;
    else if (!prefix.empty()) ns = "urn:undeclared:" + prefix;
  }
  std::size_t find_or_fail(const char* what, std::size_t from) {
    const std::size_t e = s_.find(what, from);
    if (e == std::string::npos) fail(std::string("a construct without its '") + what + "'");
    return e;
  }
  [[noreturn]] void fail(const std::string& why) const {
    throw_invalid("'" + name_ + "': its XMP is not well-formed XML: " + why);
  }
  const std::string& s_;
  std::string name_;
  std::size_t p_ = 0;
};

const char* kNsRdf = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const char* kNsXmpNote = "http://ns.adobe.com/xmp/note/";
const char* kNsContainer = "http://ns.google.com/photos/dd/1.0/container/";
const char* kNsItem = "http://ns.google.com/photos/dd/1.0/item/";
const char* kNsDdDepthMap = "http://ns.google.com/photos/dd/1.0/depthmap/";

void walk(const XmlNode& n, const std::function<void(const XmlNode&)>& f) {
  f(n);
  for (const auto& c : n.children) walk(*c, f);
}

// A simple property of `ns`:`name`, written as an attribute of a node or as a child element with
// text, anywhere in the packet (the first one found).
std::optional<std::string> property(const XmlNode& root, const std::string& ns, const std::string& name) {
  std::optional<std::string> found;
  walk(root, [&](const XmlNode& n) {
    if (found) return;
    if (const std::string* v = n.attr(ns, name)) found = *v;
    else if (n.ns == ns && n.local == name && n.children.empty()) found = n.text;
  });
  return found;
}

// The property of `ns`:`name` on node `n` itself: its attribute, or a direct child element.
std::optional<std::string> own_property(const XmlNode& n, const std::string& ns, const std::string& name) {
  if (const std::string* v = n.attr(ns, name)) return *v;
  for (const auto& c : n.children)
    if (c->ns == ns && c->local == name) return c->text;
  // rdf:Description / rdf:parseType="Resource" children hold the fields of a struct
  for (const auto& c : n.children)
    if (c->ns == kNsRdf && c->local == "Description")
      if (auto v = own_property(*c, ns, name)) return v;
  return std::nullopt;
}

double to_number(const std::optional<std::string>& v, const std::string& what, const std::string& name) {
  if (!v) throw_invalid("'" + name + "': " + what + " is missing");
  char* end = nullptr;
  const double d = std::strtod(v->c_str(), &end);
  while (end && (*end == ' ' || *end == '\n' || *end == '\r' || *end == '\t')) ++end;
  if (v->empty() || !end || *end != '\0' || !std::isfinite(d))
    throw_invalid("'" + name + "': " + what + " is not a number ('" + *v + "')");
  return d;
}

DepthFormat parse_format(const std::optional<std::string>& v, const std::string& name) {
  if (!v || *v == "RangeInverse") return DepthFormat::RangeInverse;  // the spec's default
  if (*v == "RangeLinear") return DepthFormat::RangeLinear;
  throw_invalid("'" + name + "': depth format '" + *v + "' is neither RangeInverse nor RangeLinear");
}

// ---------------------------------------------------------------- JPEG segments

const char kXmpHeader[] = "http://ns.adobe.com/xap/1.0/";          // + NUL: 29 bytes
const char kExtHeader[] = "http://ns.adobe.com/xmp/extension/";    // + NUL: 35 bytes
constexpr std::size_t kXmpHeaderSize = sizeof(kXmpHeader);         // includes the NUL
constexpr std::size_t kExtHeaderSize = sizeof(kExtHeader);
constexpr std::size_t kMaxSegmentPayload = 65533;                  // 65535 minus the length field
constexpr std::size_t kExtChunk = kMaxSegmentPayload - kExtHeaderSize - 32 - 4 - 4;  // 65458

struct Segment {
  std::uint8_t marker = 0;
  std::size_t payload = 0, length = 0;  // offset and length of the payload (after the 2 length bytes)
};

struct JpegLayout {
  std::vector<Segment> segments;  // up to the first SOS
  std::size_t end = 0;            // one past the primary image's EOI
};

JpegLayout jpeg_layout(const std::uint8_t* d, std::size_t n, const std::string& name) {
  if (n < 4 || d[0] != 0xFF || d[1] != 0xD8) throw_invalid("'" + name + "' is not a JPEG file");
  JpegLayout L;
  std::size_t p = 2;
  bool scanned = false;
  for (;;) {
    if (p + 2 > n) throw_invalid("'" + name + "': the JPEG ends before its EOI marker");
    if (d[p] != 0xFF) throw_invalid("'" + name + "': a JPEG marker was expected at byte " + std::to_string(p));
    std::uint8_t m = d[p + 1];
    if (m == 0xFF) { ++p; continue; }  // fill byte
    if (m == 0xD9) { L.end = p + 2; return L; }
    if ((m >= 0xD0 && m <= 0xD7) || m == 0x01) { p += 2; continue; }
    if (p + 4 > n) throw_invalid("'" + name + "': a JPEG segment is cut off");
    const std::size_t len = (std::size_t(d[p + 2]) << 8) | d[p + 3];
    if (len < 2 || p + 2 + len > n) throw_invalid("'" + name + "': a JPEG segment is longer than the file");
    if (!scanned) L.segments.push_back({m, p + 4, len - 2});
    p += 2 + len;
    if (m == 0xDA) {  // entropy-coded data up to the next marker that is not a stuffed 0 or a restart
      scanned = true;
      while (p + 1 < n && !(d[p] == 0xFF && d[p + 1] != 0x00 && !(d[p + 1] >= 0xD0 && d[p + 1] <= 0xD7))) ++p;
    }
  }
}

bool starts_with(const std::uint8_t* d, std::size_t n, const char* s, std::size_t len) {
  return n >= len && std::memcmp(d, s, len) == 0;
}

// The shortest decimal that reads back as the same double.
std::string fmt(double v) {
  char buf[64];
  for (int digits = 6; digits <= 17; ++digits) {
    std::snprintf(buf, sizeof buf, "%.*g", digits, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '&') out += "&amp;";
    else if (c == '<') out += "&lt;";
    else if (c == '"') out += "&quot;";
    else out += c;
  }
  return out;
}

void append_segment(std::vector<std::uint8_t>& out, const std::string& header_with_nul, const std::uint8_t* body,
                    std::size_t size) {
  const std::size_t len = 2 + header_with_nul.size() + size;
  out.push_back(0xFF);
  out.push_back(0xE1);
  out.push_back(std::uint8_t(len >> 8));
  out.push_back(std::uint8_t(len & 0xFF));
  out.insert(out.end(), header_with_nul.begin(), header_with_nul.end());
  out.insert(out.end(), body, body + size);
}

}  // namespace

std::vector<std::uint8_t> build_depth_photo(const DepthPhoto& photo) {
  if (!photo.depth) throw_invalid("a depth photo needs its depth map");
  const DepthMapData& m = *photo.depth;
  check_near_far(m);
  if (m.data.empty()) throw_invalid("a depth photo needs its depth image");
  const JpegLayout L = jpeg_layout(photo.primary.data(), photo.primary.size(), "the primary image");
  for (const Segment& s : L.segments)
    if (s.marker == 0xE1 && (starts_with(&photo.primary[s.payload], s.length, kXmpHeader, kXmpHeaderSize) ||
                             starts_with(&photo.primary[s.payload], s.length, kExtHeader, kExtHeaderSize)))
      throw_invalid("the primary image of a depth photo must not carry XMP of its own");

  // The extended packet: the images.
  const std::string decl =
      " xmlns:GDepth=\"" + std::string(kNsGDepth) + "\"" + " xmlns:GImage=\"" + kNsGImage + "\"";
  std::string ext = "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\"><rdf:RDF xmlns:rdf=\"" + std::string(kNsRdf) +
                    "\"><rdf:Description rdf:about=\"\"" + decl;
  ext += " GDepth:Data=\"" + base64_encode(m.data.data(), m.data.size()) + "\"";
  if (!m.confidence.empty()) ext += " GDepth:Confidence=\"" + base64_encode(m.confidence.data(), m.confidence.size()) + "\"";
  if (!photo.image.empty()) ext += " GImage:Data=\"" + base64_encode(photo.image.data(), photo.image.size()) + "\"";
  ext += "/></rdf:RDF></x:xmpmeta>";
  const std::string guid = md5_hex(reinterpret_cast<const std::uint8_t*>(ext.data()), ext.size());

  // The standard packet: everything small, and the GUID of the extended one.
  std::string std_xmp = "<?xpacket begin=\"\xEF\xBB\xBF\" id=\"W5M0MpCehiHzreSzNTczkc9d\"?>\n"
                        "<x:xmpmeta xmlns:x=\"adobe:ns:meta/\">\n<rdf:RDF xmlns:rdf=\"" + std::string(kNsRdf) +
                        "\">\n<rdf:Description rdf:about=\"\"" + decl + "\n xmlns:GFocus=\"" + kNsGFocus +
                        "\"\n xmlns:xmpNote=\"" + kNsXmpNote + "\"\n xmlns:DualCam=\"" + kNsDualCam + "\"";
  auto prop = [&](const char* name, const std::string& value) {
    std_xmp += std::string("\n ") + name + "=\"" + xml_escape(value) + "\"";
  };
  prop("GDepth:Format", to_string(m.format));
  prop("GDepth:Near", fmt(m.near));
  prop("GDepth:Far", fmt(m.far));
  if (!m.units.empty()) prop("GDepth:Units", m.units);
  prop("GDepth:MeasureType", "OpticalAxis");
  prop("GDepth:Mime", m.mime);
  if (!m.confidence.empty()) prop("GDepth:ConfidenceMime", m.confidence_mime.empty() ? "image/png" : m.confidence_mime);
  const cv::Size depth_size = peek_image_size(m.data.data(), m.data.size());
  if (depth_size.width > 0) {
    prop("GDepth:ImageWidth", std::to_string(depth_size.width));
    prop("GDepth:ImageHeight", std::to_string(depth_size.height));
  }
  prop("GDepth:Software", "dualcam");
  if (photo.focus) {
    prop("GFocus:BlurAtInfinity", fmt(photo.focus->blur_at_infinity));
    prop("GFocus:FocalDistance", fmt(photo.focus->focal_distance));
    if (photo.focus->focal_point_x) prop("GFocus:FocalPointX", fmt(*photo.focus->focal_point_x));
    if (photo.focus->focal_point_y) prop("GFocus:FocalPointY", fmt(*photo.focus->focal_point_y));
  }
  if (!photo.image.empty()) prop("GImage:Mime", photo.image_mime.empty() ? "image/jpeg" : photo.image_mime);
  if (m.disparity_scale) prop("DualCam:DisparityScale", fmt(*m.disparity_scale));
  if (m.disparity_offset) prop("DualCam:DisparityOffset", fmt(*m.disparity_offset));
  prop("DualCam:Metric", m.metric ? "True" : "False");
  prop("xmpNote:HasExtendedXMP", guid);
  std_xmp += "/>\n</rdf:RDF>\n</x:xmpmeta>\n<?xpacket end=\"w\"?>";
  if (std_xmp.size() + kXmpHeaderSize > kMaxSegmentPayload) throw_invalid("the depth photo's standard XMP is too large");

  std::vector<std::uint8_t> out;
  out.reserve(photo.primary.size() + ext.size() + ext.size() / kExtChunk * 80 + std_xmp.size() + 256);
  // SOI and any APP0 (JFIF) first, then our segments, then the rest of the primary image.
  std::size_t insert_at = 2;
  for (const Segment& s : L.segments) {
    if (s.marker != 0xE0) break;
    insert_at = s.payload + s.length;
  }
  out.insert(out.end(), photo.primary.begin(), photo.primary.begin() + std::ptrdiff_t(insert_at));
  append_segment(out, std::string(kXmpHeader, kXmpHeaderSize), reinterpret_cast<const std::uint8_t*>(std_xmp.data()),
                 std_xmp.size());
  const std::uint32_t total = std::uint32_t(ext.size());
  for (std::size_t off = 0; off < ext.size(); off += kExtChunk) {
    const std::size_t len = std::min(kExtChunk, ext.size() - off);
    std::string head(kExtHeader, kExtHeaderSize);
    head += guid;
    for (std::uint32_t v : {total, std::uint32_t(off)})
      for (int k = 3; k >= 0; --k) head += char((v >> (8 * k)) & 0xFF);
    append_segment(out, head, reinterpret_cast<const std::uint8_t*>(ext.data()) + off, len);
  }
  out.insert(out.end(), photo.primary.begin() + std::ptrdiff_t(insert_at), photo.primary.end());
  return out;
}

DepthPhoto parse_depth_photo(const std::uint8_t* d, std::size_t n, const std::string& name) {
  const JpegLayout L = jpeg_layout(d, n, name);
  DepthPhoto photo;
  photo.primary.assign(d, d + L.end);
  std::string std_xmp;
  std::map<std::string, std::pair<std::uint32_t, std::vector<std::pair<std::uint32_t, std::string>>>> ext;  // guid ->
  for (const Segment& s : L.segments) {
    if (s.marker != 0xE1) continue;
    const std::uint8_t* p = d + s.payload;
    if (starts_with(p, s.length, kXmpHeader, kXmpHeaderSize) && std_xmp.empty()) {
      std_xmp.assign(reinterpret_cast<const char*>(p + kXmpHeaderSize), s.length - kXmpHeaderSize);
    } else if (starts_with(p, s.length, kExtHeader, kExtHeaderSize) && s.length >= kExtHeaderSize + 40) {
      const std::uint8_t* q = p + kExtHeaderSize;
      const std::string guid(reinterpret_cast<const char*>(q), 32);
      const std::uint32_t total = (std::uint32_t(q[32]) << 24) | (std::uint32_t(q[33]) << 16) | (std::uint32_t(q[34]) << 8) | q[35];
      const std::uint32_t off = (std::uint32_t(q[36]) << 24) | (std::uint32_t(q[37]) << 16) | (std::uint32_t(q[38]) << 8) | q[39];
      auto& e = ext[guid];
      e.first = total;
      e.second.emplace_back(off, std::string(reinterpret_cast<const char*>(q + 40), s.length - kExtHeaderSize - 40));
    }
  }
  if (std_xmp.empty()) return photo;
  const std::unique_ptr<XmlNode> root = XmlParser(std_xmp, name).parse();
  std::unique_ptr<XmlNode> ext_root;
  if (const auto guid = property(*root, kNsXmpNote, "HasExtendedXMP")) {
    const auto it = ext.find(*guid);
    if (it == ext.end()) throw_invalid("'" + name + "': its extended XMP " + *guid + " is missing");
    std::string packet(it->second.first, '\0');
    std::vector<bool> have(packet.size(), false);
    std::size_t filled = 0;
    for (const auto& [off, chunk] : it->second.second) {
      if (std::size_t(off) + chunk.size() > packet.size())
        throw_invalid("'" + name + "': an extended XMP chunk lies beyond the packet's length");
      for (std::size_t i = 0; i < chunk.size(); ++i)
        if (!have[off + i]) { have[off + i] = true; ++filled; }
      if (!chunk.empty()) std::memcpy(&packet[off], chunk.data(), chunk.size());
    }
    if (filled != packet.size()) throw_invalid("'" + name + "': its extended XMP " + *guid + " is incomplete");
    ext_root = XmlParser(packet, name + " (extended XMP)").parse();
  }
  auto find = [&](const char* ns, const char* p) -> std::optional<std::string> {
    if (auto v = property(*root, ns, p)) return v;
    if (ext_root) return property(*ext_root, ns, p);
    return std::nullopt;
  };
  auto number = [&](const char* ns, const char* p) -> std::optional<double> {
    const auto v = find(ns, p);
    if (!v) return std::nullopt;
    return to_number(v, p, name);
  };
  auto bytes = [&](const char* ns, const char* p) -> std::vector<std::uint8_t> {
    const auto v = find(ns, p);
    if (!v) return {};
    try {
      return base64_decode(*v);
    } catch (const Error& e) {
      throw_invalid("'" + name + "': " + p + ": " + e.what());
    }
  };

  if (find(kNsGDepth, "Data") || find(kNsGDepth, "Near")) {
    DepthMapData m;
    m.format = parse_format(find(kNsGDepth, "Format"), name);
    m.near = to_number(find(kNsGDepth, "Near"), "GDepth:Near", name);
    m.far = to_number(find(kNsGDepth, "Far"), "GDepth:Far", name);
    m.units = find(kNsGDepth, "Units").value_or("");
    m.mime = find(kNsGDepth, "Mime").value_or("");
    m.data = bytes(kNsGDepth, "Data");
    if (m.data.empty()) throw_invalid("'" + name + "': GDepth:Data (the depth image) is missing or empty");
    m.confidence_mime = find(kNsGDepth, "ConfidenceMime").value_or("");
    m.confidence = bytes(kNsGDepth, "Confidence");
    m.disparity_scale = number(kNsDualCam, "DisparityScale");
    m.disparity_offset = number(kNsDualCam, "DisparityOffset");
    m.metric = find(kNsDualCam, "Metric").value_or("") == "True";
    photo.depth = std::move(m);
    photo.container = "GDepth";
    photo.image_mime = find(kNsGImage, "Mime").value_or("");
    photo.image = bytes(kNsGImage, "Data");
    if (const auto fd = number(kNsGFocus, "FocalDistance")) {
      DepthPhotoFocus f;
      f.focal_distance = *fd;
      f.blur_at_infinity = number(kNsGFocus, "BlurAtInfinity").value_or(0.0);
      f.focal_point_x = number(kNsGFocus, "FocalPointX");
      f.focal_point_y = number(kNsGFocus, "FocalPointY");
      photo.focus = f;
    }
    return photo;
  }

  // Dynamic Depth 1.0: the Container directory's items, in file order after the primary image.
  std::vector<const XmlNode*> items;
  walk(*root, [&](const XmlNode& node) {
    if (node.ns == kNsContainer && node.local == "Item") items.push_back(&node);
  });
  if (items.empty()) return photo;
  const XmlNode* depth_map = nullptr;
  walk(*root, [&](const XmlNode& node) {
    if (!depth_map && node.ns == "http://ns.google.com/photos/dd/1.0/camera/" && node.local == "DepthMap") depth_map = &node;
  });
  if (!depth_map) throw_invalid("'" + name + "': a Dynamic Depth container without a Camera:DepthMap");
  const std::string depth_uri = own_property(*depth_map, kNsDdDepthMap, "DepthURI").value_or("");
  std::size_t pos = L.end;  // item 0 is the primary image
  bool found = false;
  for (std::size_t i = 0; i < items.size(); ++i) {
    const XmlNode& it = *items[i];
    const std::string mime = own_property(it, kNsItem, "Mime").value_or("");
    const auto len_text = own_property(it, kNsItem, "Length");
    const double padding = own_property(it, kNsItem, "Padding") ? to_number(own_property(it, kNsItem, "Padding"), "Item:Padding", name) : 0.0;
    if (i == 0) {  // the primary image: its length is the JPEG's own
      pos += std::size_t(std::max(0.0, padding));
      continue;
    }
    const double len = to_number(len_text, "Item:Length of item " + std::to_string(i), name);
    if (len <= 0 || padding < 0 || pos + std::size_t(len) > n)
      throw_invalid("'" + name + "': Dynamic Depth item " + std::to_string(i) + " (" + mime + ", " +
                    std::to_string(std::int64_t(len)) + " bytes) lies beyond the end of the file");
    const std::string semantic = own_property(it, kNsItem, "Semantic").value_or("");
    const std::string uri = own_property(it, kNsItem, "DataURI").value_or("");
    if (!found && (semantic == "Depth" || (!depth_uri.empty() && uri == depth_uri))) {
      DepthMapData m;
      m.format = parse_format(own_property(*depth_map, kNsDdDepthMap, "Format"), name);
      m.near = to_number(own_property(*depth_map, kNsDdDepthMap, "Near"), "DepthMap:Near", name);
      m.far = to_number(own_property(*depth_map, kNsDdDepthMap, "Far"), "DepthMap:Far", name);
      m.units = own_property(*depth_map, kNsDdDepthMap, "Units").value_or("");
      m.mime = mime;
      m.data.assign(d + pos, d + pos + std::size_t(len));
      photo.depth = std::move(m);
      found = true;
    }
    pos += std::size_t(len) + std::size_t(padding);
  }
  if (!found) throw_invalid("'" + name + "': its Dynamic Depth container names no depth item (Item:Semantic Depth)");
  photo.container = "DynamicDepth";
  return photo;
}

void write_depth_photo(const std::string& path, const DepthPhoto& photo) {
  const std::vector<std::uint8_t> bytes = build_depth_photo(photo);
  write_file_atomic(path, bytes.data(), bytes.size());
}

DepthPhoto read_depth_photo(const std::string& path) {
  const std::vector<std::uint8_t> bytes = read_file_bytes(path);
  return parse_depth_photo(bytes.data(), bytes.size(), path);
}

RefocusPhoto read_refocus_photo(const std::string& path, std::int64_t max_pixels) {
  RefocusPhoto r;
  r.photo = read_depth_photo(path);
  if (!r.photo.depth)
    throw_invalid("'" + path + "' carries no depth map (no GDepth or Dynamic Depth metadata); give its disparity "
                  "(--disparity D.pfm)");
  ImageReadOptions iro;
  iro.max_pixels = max_pixels;
  r.all_in_focus = !r.photo.image.empty();
  r.image = r.all_in_focus ? decode_image(r.photo.image.data(), r.photo.image.size(), path + " (GImage)", iro)
                           : decode_image(r.photo.primary.data(), r.photo.primary.size(), path, iro);
  r.disparity = decode_disparity(*r.photo.depth);
  if (r.disparity.size() != r.image.size()) {  // a depth map at its own (often lower) resolution
    const double s = r.photo.depth->disparity_scale ? double(r.image.cols) / r.disparity.cols : 1.0;
    cv::resize(r.disparity, r.disparity, r.image.size(), 0, 0, cv::INTER_LINEAR);
    r.disparity *= s;
  }
  if (r.photo.depth->metric && r.photo.depth->disparity_scale) r.metric_disparity_scale = r.photo.depth->disparity_scale;
  return r;
}

Json depth_photo_json(const DepthPhoto& photo) {
  Json j;
  j["container"] = photo.container.empty() ? Json(nullptr) : Json(photo.container);
  const cv::Size ps = peek_image_size(photo.primary.data(), photo.primary.size());
  j["primary"] = {{"width", ps.width}, {"height", ps.height}};
  if (photo.depth) {
    const DepthMapData& m = *photo.depth;
    const cv::Size ds = peek_image_size(m.data.data(), m.data.size());
    Json dj = {{"format", to_string(m.format)}, {"near", m.near}, {"far", m.far}, {"units", m.units},
               {"mime", m.mime}, {"width", ds.width}, {"height", ds.height}, {"bytes", m.data.size()},
               {"metric", m.metric}};
    if (m.disparity_scale) dj["disparity_scale"] = *m.disparity_scale;
    if (m.disparity_offset) dj["disparity_offset"] = *m.disparity_offset;
    if (!m.confidence.empty()) dj["confidence"] = {{"mime", m.confidence_mime}, {"bytes", m.confidence.size()}};
    j["depth"] = dj;
  }
  if (photo.focus) {
    Json f = {{"focal_distance", photo.focus->focal_distance}, {"blur_at_infinity", photo.focus->blur_at_infinity}};
    if (photo.focus->focal_point_x) f["focal_point_x"] = *photo.focus->focal_point_x;
    if (photo.focus->focal_point_y) f["focal_point_y"] = *photo.focus->focal_point_y;
    j["focus"] = f;
  }
  if (!photo.image.empty()) {
    const cv::Size is = peek_image_size(photo.image.data(), photo.image.size());
    j["image"] = {{"mime", photo.image_mime}, {"width", is.width}, {"height", is.height}, {"bytes", photo.image.size()}};
  }
  return j;
}

}  // namespace dualcam
