#pragma once
// Helpers shared by the tests: temporary directories, running the CLI, the shared data folder.
#include <filesystem>
#include <string>

namespace dualcam::test {

// A fresh empty directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

struct CliResult {
  int exit_code = -1;
  std::string out, err;
};

// Runs the dualcam binary with `args` (a shell-quoted argument string). `shell_prefix` runs in the
// same shell before it (e.g. "ulimit -f 64;" to make large writes fail).
CliResult run_cli(const std::string& args, const std::string& shell_prefix = "");

// Runs a shell command line (not dualcam), capturing stdout and stderr.
CliResult run_shell(const std::string& command);
// Whether a program is on the PATH (tests that need exiftool, exiv2 or chromium skip without it).
bool have_tool(const std::string& program);

// The embedded sample (`dualcam sample`) written into a temporary folder: the CLI tests' pair.
struct SampleDir {
  TempDir dir;
  SampleDir();
  std::string p(const std::string& name) const { return dir / name; }                // its path
  std::string q(const std::string& name) const { return "\"" + p(name) + "\""; }   // quoted
  std::string pair() const { return " --mono " + q("mono.png") + " --color " + q("color.png") + " --rig " + q("rig.yaml"); }
};

// The shared data folder, or empty when it is absent (tests then skip).
std::string shared_data_dir();

// The line a skipped test case prints (see DUALCAM_SKIP): ctest's SKIP_REGULAR_EXPRESSION on every
// discovered test case (cmake/DualcamHelpers.cmake) turns it into "Skipped" instead of "Passed".
#define DUALCAM_SKIP_MARKER "dualcam-test-skipped:"

// Number of lines in a string (ignoring a trailing newline).
int line_count(const std::string& s);

std::string read_text(const std::string& path);

// Runs the CLI and checks a refusal: a non-zero exit that is not a crash, exactly one line on
// stderr containing `fragment`, and `output` not written. Returns what the CLI did. `shell_prefix`
// as for run_cli (e.g. environment variables).
CliResult expect_refused(const std::string& args, const std::string& fragment, const std::string& output,
                         const std::string& shell_prefix = "");

}  // namespace dualcam::test

// Ends the current test case as skipped, saying why: ctest reports it as skipped, never as passed.
#define DUALCAM_SKIP(reason)                  \
  do {                                        \
    WARN(DUALCAM_SKIP_MARKER " " << reason);  \
    return;                                   \
  } while (false)
