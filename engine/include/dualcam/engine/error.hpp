#pragma once
// dualcam::Error: the one exception type of the engine. Every failure a user can cause (bad file,
// bad option, bad rig) is reported as an Error with a category; the CLI prints what() as one
// line on stderr and exits with exit_code(category).
#include <stdexcept>
#include <string>

namespace dualcam {

enum class ErrorCategory {
  InvalidInput,  // a value, option or file content that makes no sense
  IO,            // a file that cannot be found, read or written
  Calibration,   // calibration could not produce an answer (too few views, no board, ...)
  Numerical,     // a computation diverged or produced non-finite values
};

const char* to_string(ErrorCategory category);

// Process exit code the CLI uses for an error of this category (0 is success, 1 an internal
// error, 3 is reserved for a failed calibration verdict).
int exit_code(ErrorCategory category);

class Error : public std::runtime_error {
 public:
  Error(ErrorCategory category, const std::string& message)
      : std::runtime_error(message), category_(category) {}
  ErrorCategory category() const { return category_; }

 private:
  ErrorCategory category_;
};

[[noreturn]] void throw_invalid(const std::string& message);
[[noreturn]] void throw_io(const std::string& message);

// validate() helper: throws InvalidInput "NAME must be in [lo, hi], got V" when out of range.
void check_range(const char* name, double value, double lo, double hi);

}  // namespace dualcam
