#include "support.hpp"

#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <random>
#include <sstream>
#include <sys/wait.h>

namespace fs = std::filesystem;

namespace dualcam::test {

TempDir::TempDir() {
  std::random_device rd;
  for (int i = 0; i < 100; ++i) {
    fs::path p = fs::temp_directory_path() / ("dualcam-test-" + std::to_string(rd()));
    if (fs::create_directory(p)) {
      path_ = p;
      return;
    }
  }
  throw std::runtime_error("cannot create a temporary directory");
}

TempDir::~TempDir() {
  std::error_code ec;
  fs::permissions(path_, fs::perms::owner_all, fs::perm_options::add, ec);
  fs::remove_all(path_, ec);
}

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

CliResult run_cli(const std::string& args, const std::string& shell_prefix) {
  return run_shell(shell_prefix + "\"" + DUALCAM_BINARY + "\" " + args);
}

CliResult run_shell(const std::string& command) {
  TempDir tmp;
  const std::string out = tmp / "stdout", err = tmp / "stderr";
  const std::string cmd = "( " + command + " ) >\"" + out + "\" 2>\"" + err + "\" </dev/null";
  int status = std::system(cmd.c_str());
  CliResult r;
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

SampleDir::SampleDir() { REQUIRE(run_cli("sample -o \"" + dir.path().string() + "\"").exit_code == 0); }

bool have_tool(const std::string& program) {
  return run_shell("command -v '" + program + "'").exit_code == 0;
}

std::string shared_data_dir() {
  const char* env = std::getenv("DUALCAM_SHARED_DATA");
  std::string dir = env ? env : DUALCAM_SHARED_DATA;
  std::error_code ec;
  return fs::is_directory(dir, ec) ? dir : std::string();
}

int line_count(const std::string& s) {
  int n = 0;
  for (char c : s) n += c == '\n';
  if (!s.empty() && s.back() != '\n') ++n;
  return n;
}

CliResult expect_refused(const std::string& args, const std::string& fragment, const std::string& output,
                         const std::string& shell_prefix) {
  auto r = run_cli(args, shell_prefix);
  INFO("args: " << args << "\nstderr: " << r.err);
  CHECK(r.exit_code != 0);
  CHECK(r.exit_code < 128);  // not a crash
  CHECK(line_count(r.err) == 1);
  CHECK(r.err.find(fragment) != std::string::npos);
  CHECK_FALSE(fs::exists(output));
  return r;
}

}  // namespace dualcam::test
