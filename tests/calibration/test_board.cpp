#include <catch2/catch.hpp>

#include <opencv2/imgproc.hpp>

#include "dualcam/calibration/board.hpp"
#include "dualcam/engine/error.hpp"

using namespace dualcam;
using namespace dualcam::calibration;

TEST_CASE("Board specs parse with units and reject nonsense", "[board]") {
  BoardSpec b = parse_board_spec("chessboard:9x6:24.23mm");
  CHECK(b.kind == BoardKind::Chessboard);
  CHECK(b.cols == 9);
  CHECK(b.rows == 6);
  CHECK(b.square_mm == Approx(24.23));
  CHECK(b.object_points().size() == 54);
  CHECK(b.object_points()[10].x == Approx(24.23f));
  BoardSpec c = parse_board_spec("charuco:DICT_5X5_100:11x8:1.5cm:11mm");
  CHECK(c.square_mm == Approx(15));
  CHECK(c.corner_count() == 70);
  CHECK(parse_length_mm("0.03m") == Approx(30));
  CHECK_THROWS_WITH(parse_board_spec("chessboard:9x6:24.23"), Catch::Contains("unit"));
  CHECK_THROWS_WITH(parse_board_spec("chessboard:9by6:20mm"), Catch::Contains("COLSxROWS"));
  CHECK_THROWS_WITH(parse_board_spec("circles:4x11:20mm"), Catch::Contains("chessboard:COLSxROWS"));
  CHECK_THROWS_WITH(parse_board_spec("charuco:DICT_9X9_1:5x5:20mm:10mm"), Catch::Contains("dictionary"));
  CHECK_THROWS_WITH(parse_board_spec("charuco:DICT_5X5_100:5x5:10mm:20mm"), Catch::Contains("smaller"));
  CHECK_THROWS_AS(parse_board_spec("chessboard:1x6:20mm"), Error);
}

TEST_CASE("A drawn chessboard is detected at its corners, a wrong size is not", "[board]") {
  const int sq = 30, cols = 7, rows = 5;  // inner corners 7x5 -> 8x6 squares
  cv::Mat img(6 * sq + 80, 8 * sq + 80, CV_8U, cv::Scalar(255));
  for (int r = 0; r < rows + 1; ++r)
    for (int c = 0; c < cols + 1; ++c)
      if ((r + c) % 2 == 0) cv::rectangle(img, cv::Rect(40 + c * sq, 40 + r * sq, sq, sq), cv::Scalar(0), cv::FILLED);
  cv::GaussianBlur(img, img, cv::Size(3, 3), 0.8);
  Detection d = detect_board(img, parse_board_spec("chessboard:7x5:30mm"));
  REQUIRE(d.found);
  REQUIRE(d.corners.size() == 35);
  // Every detected corner sits on a drawn inner corner (order may start at either end). Pixel
  // centres are integers (OpenCV's convention), so a square filled from pixel 40 starts at 39.5.
  for (const auto& p : d.corners) {
    double fx = (p.x - 39.5) / sq, fy = (p.y - 39.5) / sq;
    CHECK(std::abs(fx - std::round(fx)) * sq < 0.1);
    CHECK(std::abs(fy - std::round(fy)) * sq < 0.1);
  }
  Detection wrong = detect_board(img, parse_board_spec("chessboard:9x6:30mm"));
  CHECK_FALSE(wrong.found);
  CHECK(wrong.reason.find("not found") != std::string::npos);
}

TEST_CASE("refine_chessboard_corners: a window larger than the image is shrunk, a wrong image type is an Error",
          "[board]") {
  // An 11x11 image holds cornerSubPix windows of half size 3 at most (2 half + 5 <= 11); the
  // corners' spacing (8 px) asks for 4. cv::cornerSubPix asserted (cv::Exception) before.
  cv::Mat img(11, 11, CV_8U, cv::Scalar(30));
  img(cv::Rect(0, 0, 5, 5)).setTo(220);
  img(cv::Rect(5, 5, 6, 6)).setTo(220);
  cv::GaussianBlur(img, img, cv::Size(3, 3), 0.8);
  std::vector<cv::Point2f> corners{{5.3f, 4.8f}, {10.4f, 10.4f}};  // 7.6 px apart (asks for 4), both inside
  REQUIRE_NOTHROW(refine_chessboard_corners(img, cv::Size(2, 1), corners));
  CHECK(std::abs(corners[0].x - 4.5f) < 0.5f);  // the corner between the squares, at 4.5
  CHECK(std::abs(corners[0].y - 4.5f) < 0.5f);
  // Too small for any window: the positions are kept.
  std::vector<cv::Point2f> tiny{{2.0f, 2.0f}, {4.0f, 2.0f}};
  REQUIRE_NOTHROW(refine_chessboard_corners(cv::Mat(6, 6, CV_8U, cv::Scalar(0)), cv::Size(2, 1), tiny));
  CHECK(tiny[0] == cv::Point2f(2.0f, 2.0f));
  std::vector<cv::Point2f> c16{{10, 10}, {20, 10}};
  CHECK_THROWS_AS(refine_chessboard_corners(cv::Mat(40, 40, CV_16U, cv::Scalar(0)), cv::Size(2, 1), c16), Error);
}
