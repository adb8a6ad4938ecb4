#include "dualcam/engine/report.hpp"

#include <fstream>
#include <sstream>

#include <opencv2/core/version.hpp>
#include <tbb/version.h>

#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/version.hpp"

namespace dualcam {

RunReport::RunReport(const std::string& command) {
  j_["command"] = command;
  j_["versions"] = version_info();
  j_["stages_s"] = Json::object();
}

void RunReport::add_stage_seconds(const std::string& stage, double seconds) {
  j_["stages_s"][stage] = j_["stages_s"].value(stage, 0.0) + seconds;
}

void RunReport::write(const std::string& path) const { write_file_atomic(path, j_.dump(2) + "\n"); }

Json version_info() {
  return Json{{"dualcam", DUALCAM_VERSION_STRING},
              {"opencv", CV_VERSION},
              {"tbb", std::to_string(TBB_VERSION_MAJOR) + "." + std::to_string(TBB_VERSION_MINOR)}};
}

namespace {
long long status_kb(const char* key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  const std::string k(key);
  while (std::getline(in, line)) {
    if (line.compare(0, k.size(), k) == 0) {
      std::istringstream is(line.substr(k.size()));
      long long kb = 0;
      is >> kb;
      return kb;
    }
  }
  return 0;
}
}  // namespace

long long peak_rss_bytes() { return status_kb("VmHWM:") * 1024; }
long long current_rss_bytes() { return status_kb("VmRSS:") * 1024; }

}  // namespace dualcam
