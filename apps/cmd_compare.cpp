// dualcam compare: how far an image (or a disparity map) is from a reference.
#include <cmath>
#include <cstdio>
#include <memory>

#include "common.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/metrics.hpp"

namespace dualcam::app {

Command register_compare(CLI::App& root) {
  auto image = std::make_shared<std::string>();
  auto reference = std::make_shared<std::string>();
  auto json = std::make_shared<std::string>();
  CLI::App* app = root.add_subcommand(
      "compare", "compare an image with a reference (PSNR, SSIM, max difference) or a disparity PFM (bad-1/2, MAE)");
  app->add_option("image", *image, "image or disparity (PFM) to judge")->required();
  app->add_option("reference", *reference, "the reference (truth or golden)")->required();
  app->add_option("--json", *json, "also write the figures as JSON");
  app->footer(example("dualcam compare out/fused.png out/sample/truth_color.png"));
  Action action = [image, reference, json]() {
    if (!json->empty()) check_output_path(*json);
    Json j{{"image", *image}, {"reference", *reference}};
    const bool pfm = lower_extension(*image) == "pfm";
    if (pfm != (lower_extension(*reference) == "pfm"))
      throw_invalid("compare: both files must be PFM disparities, or both images");
    if (pfm) {
      cv::Mat a = read_pfm(*image), b = read_pfm(*reference);
      if (a.size() != b.size() || a.type() != CV_32F || b.type() != CV_32F)
        throw_invalid("compare: the disparities must be 1-channel PFM of the same size");
      DisparityErrors e = disparity_errors(a, b);
      std::printf("bad-1.0 %.2f %%  bad-2.0 %.2f %%  MAE %.3f px  (%lld pixels with a known reference)\n",
                  100 * e.bad1, 100 * e.bad2, e.mae_px, e.evaluated);
      j["bad1"] = e.bad1;
      j["bad2"] = e.bad2;
      j["mae_px"] = e.mae_px;
      j["evaluated"] = e.evaluated;
    } else {
      ImageComparison c = compare_images(read_image(*image), read_image(*reference));
      std::printf("PSNR %.2f dB  SSIM %.4f  max |diff| %d  differing pixels %.2f %%\n", c.psnr_db, c.ssim,
                  c.max_abs_diff, 100 * c.differing_share);
      j["psnr_db"] = std::isfinite(c.psnr_db) ? Json(c.psnr_db) : Json("inf");
      j["ssim"] = c.ssim;
      j["max_abs_diff"] = c.max_abs_diff;
      j["differing_share"] = c.differing_share;
    }
    if (!json->empty()) write_file_atomic(*json, j.dump(2) + "\n");
    return 0;
  };
  return {app, action};
}

}  // namespace dualcam::app
