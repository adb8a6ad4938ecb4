// The refocus viewer page (bokeh --viewer) in headless Chromium: a scripted click changes which
// region is sharp (measured on the page's canvas), each refocus is timed, and the page raises no
// script error. Label "page"; skipped without chromium.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>

#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/report.hpp"
#include "support.hpp"

using namespace dualcam;
using test::run_cli;

namespace {

// A textured 33x33 window of nearly one disparity with the smallest and the largest median.
std::pair<cv::Point, cv::Point> near_and_far_points(const cv::Mat& d) {
  cv::Point lo_p, hi_p;
  double lo = 1e30, hi = -1e30;
  const int h = 16;
  for (int y = h + 4; y + h + 4 < d.rows; y += 8)
    for (int x = h + 4; x + h + 4 < d.cols; x += 8) {
      cv::Mat w = d(cv::Rect(x - h, y - h, 2 * h + 1, 2 * h + 1));
      double a, b;
      cv::minMaxLoc(w, &a, &b);
      if (!std::isfinite(a) || !std::isfinite(b) || b - a > 0.5) continue;
      const double m = (a + b) / 2;
      if (m < lo) lo = m, lo_p = {x, y};
      if (m > hi) hi = m, hi_p = {x, y};
    }
  return {lo_p, hi_p};
}

}  // namespace

TEST_CASE("The viewer page refocuses where it is clicked, within 100 ms, without script errors", "[cli][viewer][page]") {
  std::string chromium;
  for (const char* c : {"chromium", "chromium-browser", "google-chrome"})
    if (test::have_tool(c)) {
      chromium = c;
      break;
    }
  if (chromium.empty()) DUALCAM_SKIP("chromium is not installed (Debian chromium)");
  test::TempDir dir;
  auto q = [&](const std::string& n) { return "\"" + (dir / n) + "\""; };
  REQUIRE(run_cli("sample -o \"" + dir.path().string() + "\"").exit_code == 0);
  auto r = run_cli("bokeh --image " + q("truth_color.png") + " --disparity " + q("disparity_color.pfm") +
                   " --focus 240,180 --max-blur 12 -o " + q("b.png") + " --viewer " + q("page.html") + " --json " +
                   q("r.json"));
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::string page = test::read_text(dir / "page.html");
  CHECK(page.find("://") == std::string::npos);  // nothing fetched: no URL of any scheme with an authority
  CHECK(page.find("<script src") == std::string::npos);
  const Json report = Json::parse(test::read_text(dir / "r.json"));
  CHECK(report["viewer"]["bytes"].get<std::size_t>() == page.size());

  const cv::Mat d = read_pfm(dir / "disparity_color.pfm");
  const auto [far_p, near_p] = near_and_far_points(d);  // preview = full size for the 480x360 sample
  INFO("points " << near_p << " and " << far_p);
  const std::string url = "file://" + (dir / "page.html") + "#selftest=" + std::to_string(near_p.x) + "," +
                          std::to_string(near_p.y) + ";" + std::to_string(far_p.x) + "," + std::to_string(far_p.y);
  r = test::run_shell("timeout 120 " + chromium + " --headless=new --disable-gpu --no-sandbox --enable-logging=stderr "
                      "--user-data-dir=" + q("profile") + " --dump-dom '" + url + "'");
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  const std::size_t at = r.out.find("<pre id=\"selftest\">");
  REQUIRE(at != std::string::npos);
  const std::size_t start = at + std::string("<pre id=\"selftest\">").size();
  const std::string text = r.out.substr(start, r.out.find("</pre>", start) - start);
  INFO(text);
  const Json j = Json::parse(text);
  CHECK(j["errors"].empty());
  CHECK(r.err.find("Uncaught") == std::string::npos);
  REQUIRE(j["sharpness"].size() == 2);
  CHECK(j["planes"][0] != j["planes"][1]);
  // after clicking the near point, the near point is sharper than after clicking the far one, and
  // the other way round
  const double near_after_near = j["sharpness"][0][0], near_after_far = j["sharpness"][1][0];
  const double far_after_near = j["sharpness"][0][1], far_after_far = j["sharpness"][1][1];
  CHECK(near_after_near > 1.5 * near_after_far);
  CHECK(far_after_far > 1.5 * far_after_near);
  // the slider: the smallest aperture (focus still on the far point) leaves the near point sharper
  CHECK(j["aperture"] == 0);
  CHECK(j["small_aperture"][0].get<double>() > 1.2 * near_after_far);
  for (const auto& ms : j["ms"]) {
    WARN("viewer refocus after a click: " << ms.get<double>() << " ms");
    CHECK(ms.get<double>() <= 100.0);
  }
}
