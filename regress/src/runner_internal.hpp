#pragma once
// What regress/src/runner.cpp (running the cases) needs from compare.cpp (the comparisons with
// the goldens) and results.cpp (the text and JSON of the results). Private to regress.
#include <string>

#include "dualcam/regress/runner.hpp"

namespace dualcam::regress::detail {

// --update: writes the produced output as the new golden and says how it moved ("new",
// "unchanged" or the old figures).
OutputResult update_output(const OutputSpec& spec, const Produced& produced, bool pictures);
// printf of two numbers into a short message.
std::string fmt(const char* f, double a, double b);
// The figures of a compared output, as the one-line report prints them.
std::string figures_text(const OutputResult& output);

}  // namespace dualcam::regress::detail
