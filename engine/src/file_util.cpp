#include "dualcam/engine/file_util.hpp"

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <glob.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dualcam/engine/error.hpp"

namespace fs = std::filesystem;

namespace dualcam {

std::string to_lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) { return char(std::tolower(c)); });
  return text;
}

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  if (!ext.empty() && ext[0] == '.') ext.erase(0, 1);
  return to_lower(ext);
}

void check_output_path(const std::string& path) {
  if (path.empty()) throw_invalid("output path is empty");
  fs::path p(path);
  fs::path dir = p.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::exists(dir, ec)) throw_io("cannot write '" + path + "': directory '" + dir.string() + "' does not exist");
  if (!fs::is_directory(dir, ec)) throw_io("cannot write '" + path + "': '" + dir.string() + "' is not a directory");
  if (fs::is_directory(p, ec)) throw_io("cannot write '" + path + "': it is a directory");
  if (::access(dir.c_str(), W_OK) != 0)
    throw_io("cannot write '" + path + "': directory '" + dir.string() + "' is not writable");
}

void write_file_atomic(const std::string& path, const void* data, std::size_t size) {
  check_output_path(path);
  fs::path p(path);
  fs::path dir = p.parent_path().empty() ? fs::path(".") : p.parent_path();
  std::string tmpl = (dir / ("." + p.filename().string() + ".tmp-XXXXXX")).string();
  std::vector<char> name(tmpl.begin(), tmpl.end());
  name.push_back('\0');
  int fd = ::mkstemp(name.data());
  if (fd < 0) throw_io("cannot write '" + path + "': " + std::strerror(errno));
  const char* bytes = static_cast<const char*>(data);
  std::size_t written = 0;
  int err = 0;
  while (written < size) {
    ssize_t n = ::write(fd, bytes + written, size - written);
    if (n < 0) {
      if (errno == EINTR) continue;
      err = errno;
      break;
    }
    written += static_cast<std::size_t>(n);
  }
  if (err == 0 && ::fsync(fd) != 0) err = errno;
  if (::close(fd) != 0 && err == 0) err = errno;
  if (err == 0) {
    ::chmod(name.data(), 0644);
    if (std::rename(name.data(), path.c_str()) != 0) err = errno;
  }
  if (err != 0) {
    ::unlink(name.data());
    throw_io("cannot write '" + path + "': " + std::strerror(err));
  }
}

void write_file_atomic(const std::string& path, const std::string& text) {
  write_file_atomic(path, text.data(), text.size());
}

std::vector<std::uint8_t> read_file_bytes(const std::string& path) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw_io("cannot read '" + path + "': no such file");
  if (fs::is_directory(path, ec)) throw_io("cannot read '" + path + "': it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw_io("cannot read '" + path + "': " + std::strerror(errno));
  // One read of the whole file (a byte at a time through a stream iterator took 0.1 s a 48 MB
  // PFM); a file that is not seekable (a pipe) is read in chunks until its end.
  std::vector<std::uint8_t> bytes;
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size > 0 && in) {
    bytes.resize(static_cast<std::size_t>(size));
    in.read(reinterpret_cast<char*>(bytes.data()), size);
    bytes.resize(static_cast<std::size_t>(in.gcount()));
  }
  if (!in.bad()) {
    in.clear();
    char chunk[65536];
    while (in.read(chunk, sizeof chunk) || in.gcount() > 0) bytes.insert(bytes.end(), chunk, chunk + in.gcount());
  }
  if (in.bad()) throw_io("cannot read '" + path + "': read failed");
  return bytes;
}

bool natural_less(const std::string& a, const std::string& b) {
  std::size_t i = 0, j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) && std::isdigit(static_cast<unsigned char>(b[j]))) {
      std::size_t i2 = i, j2 = j;
      while (i2 < a.size() && std::isdigit(static_cast<unsigned char>(a[i2]))) ++i2;
      while (j2 < b.size() && std::isdigit(static_cast<unsigned char>(b[j2]))) ++j2;
      std::string na = a.substr(i, i2 - i), nb = b.substr(j, j2 - j);
      na.erase(0, std::min(na.find_first_not_of('0'), na.size()));
      nb.erase(0, std::min(nb.find_first_not_of('0'), nb.size()));
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = i2, j = j2;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i, ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

std::vector<std::string> expand_glob(const std::string& pattern, const std::string& what) {
  std::vector<std::string> files;
  glob_t g{};
  const int rc = ::glob(pattern.c_str(), 0, nullptr, &g);
  if (rc == 0)
    for (std::size_t i = 0; i < g.gl_pathc; ++i) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(g.gl_pathv[i], ec)) files.emplace_back(g.gl_pathv[i]);
    }
  globfree(&g);
  if (files.empty()) throw_invalid("no images match " + what + " '" + pattern + "'");
  std::sort(files.begin(), files.end(), natural_less);
  return files;
}

}  // namespace dualcam
