#include <catch2/catch.hpp>

#include <cmath>
#include <cstring>
#include <fstream>

#include <opencv2/imgcodecs.hpp>
#include <tbb/global_control.h>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/png_encode.hpp"
#include "support.hpp"

using namespace dualcam;

namespace {
cv::Mat pattern(int type, int rows = 37, int cols = 53) {
  cv::Mat m(rows, cols, type);
  cv::RNG rng(12345);
  rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65535 : 255);
  return m;
}
bool same(const cv::Mat& a, const cv::Mat& b) {
  return a.size() == b.size() && a.type() == b.type() && cv::norm(a, b, cv::NORM_INF) == 0;
}
}  // namespace

TEST_CASE("PNG and TIFF round-trip 8- and 16-bit, grey and colour exactly", "[io]") {
  test::TempDir tmp;
  for (const char* ext : {"png", "tif"}) {
    for (int type : {CV_8UC1, CV_8UC3, CV_16UC1, CV_16UC3}) {
      cv::Mat m = pattern(type);
      const std::string path = tmp / (std::string("img.") + ext);
      write_image(path, m);
      CHECK(same(read_image(path), m));
    }
  }
}

TEST_CASE("encode_png: every filter, depth and channel count decodes to the image, its bytes independent of threads",
          "[io][png]") {
  for (int type : {CV_8UC1, CV_8UC3, CV_8UC4, CV_16UC1, CV_16UC3, CV_16UC4}) {
    // Rows that are not a multiple of the band, a smooth part (the filters' runs) and noise.
    cv::Mat m = pattern(type, 203, 71);
    m.rowRange(0, 40).setTo(cv::Scalar::all(CV_MAT_DEPTH(type) == CV_16U ? 40000 : 200));
    for (PngFilter f : {PngFilter::Sub, PngFilter::Up, PngFilter::Paeth}) {
      PngEncodeOptions o;
      o.filter = f;
      o.band_rows = 16;
      const std::vector<std::uint8_t> bytes = encode_png(m, o);
      // OpenCV's decoder (libpng) reads it back exactly, alpha included.
      const cv::Mat back = cv::imdecode(bytes, cv::IMREAD_UNCHANGED);
      INFO("type " << type << " filter " << int(f));
      CHECK(same(back, m));
      std::vector<std::uint8_t> one_thread;
      {
        tbb::global_control single(tbb::global_control::max_allowed_parallelism, 1);
        one_thread = encode_png(m, o);
      }
      CHECK(one_thread == bytes);
    }
  }
  // One pixel, one band; a band as large as the image.
  const cv::Mat px(1, 1, CV_8UC3, cv::Scalar(1, 2, 3));
  CHECK(same(cv::imdecode(encode_png(px), cv::IMREAD_UNCHANGED), px));
  PngEncodeOptions whole;
  whole.band_rows = 1000;
  const cv::Mat m = pattern(CV_8UC3);
  CHECK(same(cv::imdecode(encode_png(m, whole), cv::IMREAD_UNCHANGED), m));
  // Bad input and options.
  CHECK_THROWS_AS(encode_png(cv::Mat()), Error);
  CHECK_THROWS_AS(encode_png(cv::Mat(4, 4, CV_32FC1)), Error);
  CHECK_THROWS_AS(encode_png(cv::Mat(4, 4, CV_8UC2)), Error);
  PngEncodeOptions bad;
  bad.level = 0;
  CHECK_THROWS_AS(encode_png(m, bad), Error);
}

TEST_CASE("JPEG round-trips 8-bit within compression error", "[io]") {
  test::TempDir tmp;
  cv::Mat m(64, 64, CV_8UC3, cv::Scalar(40, 120, 200));
  write_image(tmp / "a.jpg", m);
  cv::Mat back = read_image(tmp / "a.jpg");
  REQUIRE(back.type() == CV_8UC3);
  CHECK(cv::norm(back, m, cv::NORM_INF) <= 3);
  CHECK_THROWS_AS(write_image(tmp / "b.jpg", pattern(CV_16UC1)), Error);
}

TEST_CASE("PFM round-trips float values in both byte orders, NaN included", "[io][pfm]") {
  test::TempDir tmp;
  cv::Mat d(13, 17, CV_32F);
  cv::randu(d, -100, 100);
  d.at<float>(3, 4) = std::numeric_limits<float>::quiet_NaN();
  d.at<float>(0, 0) = std::numeric_limits<float>::infinity();
  for (bool little : {true, false}) {
    write_pfm(tmp / "d.pfm", d, little);
    cv::Mat back = read_pfm(tmp / "d.pfm");
    REQUIRE(back.size() == d.size());
    REQUIRE(std::memcmp(back.data, d.data, d.total() * 4) == 0);
  }
  cv::Mat c(5, 6, CV_32FC3);
  cv::randu(c, 0, 1);
  write_pfm(tmp / "c.pfm", c, false);
  cv::Mat cb = read_pfm(tmp / "c.pfm");
  REQUIRE(cb.type() == CV_32FC3);
  CHECK(cv::norm(cb, c, cv::NORM_INF) == 0);
}

TEST_CASE("PFM: the sign of the scale gives the byte order, its magnitude is not applied", "[io][pfm]") {
  test::TempDir tmp;
  // Hand-written big-endian file with scale 2.5: values must come back unscaled.
  float values[2] = {1.5f, -3.25f};  // one row, two pixels
  std::string header = "Pf\n2 1\n2.5\n";
  std::string bytes = header;
  for (float v : values) {
    std::uint32_t u;
    std::memcpy(&u, &v, 4);
    for (int k = 3; k >= 0; --k) bytes.push_back(char((u >> (8 * k)) & 0xFF));
  }
  write_file_atomic(tmp / "be.pfm", bytes);
  cv::Mat m = read_pfm(tmp / "be.pfm");
  REQUIRE(m.size() == cv::Size(2, 1));
  CHECK(m.at<float>(0, 0) == 1.5f);
  CHECK(m.at<float>(0, 1) == -3.25f);
  // Rows are stored bottom-to-top.
  cv::Mat two(2, 1, CV_32F);
  two.at<float>(0) = 7;
  two.at<float>(1) = 9;
  write_pfm(tmp / "two.pfm", two);
  std::string raw = test::read_text(tmp / "two.pfm");
  float first;
  std::memcpy(&first, raw.data() + raw.size() - 8, 4);
  CHECK(first == 9);  // little-endian host assumed by this check (x86, ARM)
}

TEST_CASE("Reading refuses missing, empty, corrupt and truncated files with clear errors", "[io][bad]") {
  test::TempDir tmp;
  try {
    read_image(tmp / "missing.png");
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::IO);
    CHECK(std::string(e.what()).find("missing.png") != std::string::npos);
  }
  write_file_atomic(tmp / "empty.png", std::string());
  CHECK_THROWS_WITH(read_image(tmp / "empty.png"), Catch::Contains("empty"));
  write_file_atomic(tmp / "text.png", std::string("this is not an image"));
  CHECK_THROWS_WITH(read_image(tmp / "text.png"), Catch::Contains("cannot decode"));
  write_image(tmp / "ok.png", pattern(CV_8UC3, 200, 200));
  std::string full = test::read_text(tmp / "ok.png");
  write_file_atomic(tmp / "cut.png", full.substr(0, full.size() / 2));
  CHECK_THROWS_WITH(read_image(tmp / "cut.png"), Catch::Contains("cannot decode"));
  CHECK_THROWS_AS(read_pfm(tmp / "text.png"), Error);
}

TEST_CASE("A header claiming a huge image is refused before decoding", "[io][bad]") {
  test::TempDir tmp;
  write_image(tmp / "ok.png", pattern(CV_8UC1, 100, 100));
  std::string bytes = test::read_text(tmp / "ok.png");
  // Patch the IHDR width and height to 100000 x 100000.
  for (int off : {16, 20}) {
    const std::uint32_t v = 100000;
    for (int k = 0; k < 4; ++k) bytes[off + k] = char((v >> (8 * (3 - k))) & 0xFF);
  }
  write_file_atomic(tmp / "huge.png", bytes);
  CHECK_THROWS_WITH(read_image(tmp / "huge.png"), Catch::Contains("100000x100000"));
  CHECK(peek_image_size(reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()) == cv::Size(100000, 100000));
}

TEST_CASE("Atomic writes leave nothing behind on failure", "[io]") {
  test::TempDir tmp;
  CHECK_THROWS_WITH(write_file_atomic(tmp / "nodir/x.txt", std::string("a")), Catch::Contains("does not exist"));
  write_file_atomic(tmp / "x.txt", std::string("hello"));
  CHECK(test::read_text(tmp / "x.txt") == "hello");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(tmp.path())) files += e.is_regular_file();
  CHECK(files == 1);  // no temporary left over
}

TEST_CASE("Fuzzer finding: a tiny PNG with a chunk claiming gigabytes is refused before decoding", "[io][bad][fuzz]") {
  test::TempDir tmp;
  write_image(tmp / "ok.png", pattern(CV_8UC1, 6, 5));
  std::string bytes = test::read_text(tmp / "ok.png");
  // Insert a tEXt chunk that claims about 1.8 GB right after IHDR (8 + 25 bytes).
  std::string chunk("\x6d\xd0\x8f\x65tEXtabc", 11);
  bytes.insert(33, chunk);
  write_file_atomic(tmp / "bomb.png", bytes);
  CHECK_THROWS_WITH(read_image(tmp / "bomb.png"), Catch::Contains("chunk 'tEXt' claims 18"));
}

TEST_CASE("Fuzzer findings: files that aborted an OpenCV decoder are refused as not PNG/JPEG/TIFF", "[io][bad][fuzz]") {
  for (const char* name : {"crash-other-decoder-1.bin", "crash-other-decoder-2.bin", "crash-chunk-length.png"}) {
    const std::string path = std::string(DUALCAM_SOURCE_DIR) + "/fuzz/corpus/image/" + name;
    INFO(path);
    CHECK_THROWS_AS(read_image(path), Error);
  }
}
