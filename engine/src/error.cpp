#include "dualcam/engine/error.hpp"

#include <cmath>
#include <sstream>

namespace dualcam {

const char* to_string(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::InvalidInput: return "invalid input";
    case ErrorCategory::IO: return "i/o error";
    case ErrorCategory::Calibration: return "calibration error";
    case ErrorCategory::Numerical: return "numerical error";
  }
  return "error";
}

int exit_code(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::InvalidInput: return 2;
    case ErrorCategory::IO: return 4;
    case ErrorCategory::Calibration: return 5;
    case ErrorCategory::Numerical: return 6;
  }
  return 1;
}

void throw_invalid(const std::string& message) { throw Error(ErrorCategory::InvalidInput, message); }
void throw_io(const std::string& message) { throw Error(ErrorCategory::IO, message); }

void check_range(const char* name, double value, double lo, double hi) {
  if (!(std::isfinite(value) && value >= lo && value <= hi)) {
    std::ostringstream os;
    os << name << " must be in [" << lo << ", " << hi << "], got " << value;
    throw_invalid(os.str());
  }
}

}  // namespace dualcam
