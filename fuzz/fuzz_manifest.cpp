// Regression manifest parser: any bytes must give a Manifest or a dualcam::Error, nothing else.
// Files are not checked (the parser would only stat paths the input names), so the fuzzer
// exercises the JSON structure and value checks.
#include <cstddef>
#include <cstdint>
#include <string>

#include "dualcam/engine/error.hpp"
#include "dualcam/regress/manifest.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    dualcam::regress::ManifestReadOptions options;
    options.check_inputs = false;
    options.check_goldens = false;
    const auto m = dualcam::regress::parse_manifest(std::string(reinterpret_cast<const char*>(data), size),
                                                    "fuzz/manifest.json", options);
    // A parsed manifest's cases must be usable as the runner uses them.
    for (const auto& c : m.cases) {
      (void)dualcam::regress::to_string(c.command);
      for (const auto& o : c.outputs) (void)o.golden.size();
      if (c.inputs.simulate) (void)c.inputs.simulate->json.dump();
    }
  } catch (const dualcam::Error&) {
  }
  return 0;
}
