#include <cstdio>

#include <dualcam/fusion/pipeline.hpp>

int main() {
  dualcam::fusion::FuseOptions options;
  options.validate();
  std::printf("reference=%s\n", dualcam::fusion::to_string(options.reference));
  return 0;
}
