#include <catch2/catch.hpp>

#include <cstdlib>
#include <random>

#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/raw.hpp"
#include "support.hpp"

using namespace dualcam;

namespace {

RawFrame random_frame(int w, int h, int bits, CfaPattern cfa, unsigned seed) {
  RawFrame f;
  f.samples.create(h, w, CV_16UC1);
  std::mt19937 rng(seed);
  for (int y = 0; y < h; ++y)
    for (int x = 0; x < w; ++x) f.samples.at<std::uint16_t>(y, x) = std::uint16_t(rng() % (1u << bits));
  f.bits = bits;
  f.cfa = cfa;
  f.black_level = 16;
  f.white_level = (1 << bits) - 1;
  return f;
}

bool same(const cv::Mat& a, const cv::Mat& b) { return a.size() == b.size() && cv::countNonZero(a != b) == 0; }

}  // namespace

TEST_CASE("headerless raw: 8, 10, 12 and 16 bits, both byte orders, a row stride") {
  for (int bits : {8, 10, 12, 16})
    for (ByteOrder order : {ByteOrder::Little, ByteOrder::Big}) {
      const RawFrame f = random_frame(34, 20, bits, CfaPattern::Grbg, unsigned(bits));
      const std::vector<std::uint8_t> bytes = encode_headerless(f, order);
      REQUIRE(bytes.size() == std::size_t(34 * 20 * (bits <= 8 ? 1 : 2)));
      RawLayout l;
      l.width = 34;
      l.height = 20;
      l.bits = bits;
      l.byte_order = order;
      l.cfa = CfaPattern::Grbg;
      const RawFrame back = decode_headerless(bytes.data(), bytes.size(), l, "t.raw");
      CHECK(same(back.samples, f.samples));
      CHECK(back.cfa == CfaPattern::Grbg);
      CHECK(back.black_level == 0);
      CHECK(back.white_level == (1 << bits) - 1);
    }
  // Rows padded to 80 bytes (a 34-pixel 16-bit row has 68); the last row may stop after its samples.
  const RawFrame f = random_frame(34, 6, 12, CfaPattern::None, 3);
  const std::vector<std::uint8_t> packed = encode_headerless(f);
  std::vector<std::uint8_t> padded(80 * 6, 0xEE);
  for (int y = 0; y < 6; ++y) std::copy_n(packed.begin() + 68 * y, 68, padded.begin() + 80 * y);
  RawLayout l;
  l.width = 34;
  l.height = 6;
  l.bits = 12;
  l.stride = 80;
  l.black_level = 64;
  CHECK(same(decode_headerless(padded.data(), padded.size(), l, "p.raw").samples, f.samples));
  CHECK(same(decode_headerless(padded.data(), 80 * 5 + 68, l, "p.raw").samples, f.samples));
  CHECK(decode_headerless(padded.data(), padded.size(), l, "p.raw").black_level == 64);
}

TEST_CASE("headerless raw: what does not fit is refused with the figures") {
  const RawFrame f = random_frame(32, 8, 10, CfaPattern::Rggb, 1);
  const std::vector<std::uint8_t> bytes = encode_headerless(f);
  RawLayout l;
  l.width = 32;
  l.height = 8;
  l.bits = 10;
  l.cfa = CfaPattern::Rggb;
  RawLayout wrong = l;
  wrong.width = 30;
  CHECK_THROWS_WITH(decode_headerless(bytes.data(), bytes.size(), wrong, "x.raw"),
                    Catch::Contains("x.raw") && Catch::Contains("512 bytes") && Catch::Contains("--raw-size"));
  RawLayout big = l;
  big.byte_order = ByteOrder::Big;  // little-endian 10-bit samples read as big endian: above 1023
  CHECK_THROWS_WITH(decode_headerless(bytes.data(), bytes.size(), big, "x.raw"), Catch::Contains("above the 10-bit range"));
  RawLayout no_bits = l;
  no_bits.bits = 0;
  CHECK_THROWS_WITH(decode_headerless(bytes.data(), bytes.size(), no_bits, "x.raw"), Catch::Contains("--raw-bits"));
  RawLayout odd = l;
  odd.width = 31;
  CHECK_THROWS_WITH(odd.validate(), Catch::Contains("even width"));
  RawLayout bits17 = l;
  bits17.bits = 17;
  CHECK_THROWS_AS(bits17.validate(), Error);
  RawLayout levels = l;
  levels.black_level = 900;
  levels.white_level = 800;
  CHECK_THROWS_WITH(levels.validate(), Catch::Contains("white level"));
  CHECK_THROWS_WITH(parse_cfa_pattern("rgbg"), Catch::Contains("rggb, bggr"));
  CHECK(parse_cfa_pattern("BGGR") == CfaPattern::Bggr);
  CHECK_THROWS_WITH(parse_byte_order("middle"), Catch::Contains("little"));
}

TEST_CASE("raw files: DNG written by dualcam reads back through LibRaw with the same samples and levels") {
  test::TempDir dir;
  RawFrame f = random_frame(64, 48, 10, CfaPattern::Rggb, 7);
  f.white_balance = cv::Vec3d(1.6, 1.0, 2.1);
  f.baseline_exposure_ev = 1.5;
  write_dng(dir / "c.dng", f);
  const RawFrame back = read_raw(dir / "c.dng", {});
  CHECK(back.format == "dng");
  CHECK(same(back.samples, f.samples));
  CHECK(back.cfa == CfaPattern::Rggb);
  CHECK(back.bits == 10);
  CHECK(back.black_level == Approx(16));
  CHECK(back.white_level == Approx(1023));
  for (int c = 0; c < 3; ++c) CHECK(back.white_balance[c] == Approx(f.white_balance[c]).epsilon(1e-4));
  CHECK(back.has_color_matrix);
  for (int i = 0; i < 3; ++i)
    for (int j = 0; j < 3; ++j) CHECK(back.camera_to_srgb(i, j) == Approx(i == j ? 1.0 : 0.0).margin(1e-4));
  CHECK(back.baseline_exposure_ev == Approx(1.5));

  RawFrame m = random_frame(40, 30, 12, CfaPattern::None, 9);
  write_dng(dir / "m.dng", m);
  const RawFrame mb = read_raw(dir / "m.dng", {});
  CHECK(mb.mono());
  CHECK(same(mb.samples, m.samples));

  // The levels given by the user override the file's; a pattern the file contradicts is refused.
  RawLayout l;
  l.black_level = 100;
  CHECK(read_raw(dir / "c.dng", l).black_level == 100);
  l.cfa = CfaPattern::Bggr;
  CHECK_THROWS_WITH(read_raw(dir / "c.dng", l), Catch::Contains("rggb"));

  // Debian's LibRaw tool sees the same frame (libraw-bin; the test skips where it is missing).
  if (std::system("command -v raw-identify > /dev/null 2>&1") != 0) DUALCAM_SKIP("raw-identify (libraw-bin) is not installed");
  const std::string cmd = "raw-identify -v '" + (dir / "c.dng") + "' > '" + (dir / "id.txt") + "' 2>&1";
  REQUIRE(std::system(cmd.c_str()) == 0);
  const std::string id = test::read_text(dir / "id.txt");
  CHECK_THAT(id, Catch::Contains("Filter pattern: RGGB"));
  CHECK_THAT(id, Catch::Contains("black: 16"));
  CHECK_THAT(id, Catch::Contains("64 x 48"));
}

TEST_CASE("raw files: mosaic PNGs, and files that are not raw frames") {
  test::TempDir dir;
  const RawFrame f = random_frame(20, 10, 16, CfaPattern::Gbrg, 2);
  write_image(dir / "m.png", f.samples);
  RawLayout l;
  l.cfa = CfaPattern::Gbrg;
  const RawFrame back = read_raw(dir / "m.png", l);
  CHECK(same(back.samples, f.samples));
  CHECK(back.bits == 16);
  CHECK(back.cfa == CfaPattern::Gbrg);
  l.bits = 12;
  CHECK_THROWS_WITH(read_raw(dir / "m.png", l), Catch::Contains("above the 12-bit range"));
  cv::Mat rgb(10, 20, CV_8UC3, cv::Scalar(1, 2, 3));
  write_image(dir / "rgb.png", rgb);
  CHECK_THROWS_WITH(read_raw(dir / "rgb.png", {}), Catch::Contains("1-channel"));
  CHECK_THROWS_WITH(read_raw(dir / "x.jpg", {}), Catch::Contains("not a raw frame"));
  try {
    read_raw(dir / "missing.dng", {});
    FAIL("no error");
  } catch (const Error& e) {
    CHECK(e.category() == ErrorCategory::IO);
    CHECK_THAT(e.what(), Catch::Contains("missing.dng"));
  }
  write_file_atomic(dir / "junk.dng", std::string("this is not a DNG at all, only text"));
  CHECK_THROWS_WITH(read_raw(dir / "junk.dng", {}), Catch::Contains("junk.dng"));
  CHECK(is_raw_file("a/b.NEF"));
  CHECK_FALSE(is_raw_file("a/b.png"));
}
