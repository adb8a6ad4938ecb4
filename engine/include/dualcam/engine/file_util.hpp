#pragma once
// Atomic file output: every file dualcam writes goes through write_file_atomic, which writes a
// temporary file beside the target and renames it into place, so a failure never leaves a
// half-written output behind.
#include <cstdint>
#include <string>
#include <vector>

namespace dualcam {

// Throws Error(IO) naming the path when the directory is missing or not writable, or the write
// fails (disk full). The target is either replaced whole or left untouched.
void write_file_atomic(const std::string& path, const void* data, std::size_t size);
void write_file_atomic(const std::string& path, const std::string& text);

// Reads a whole file; throws Error(IO) "cannot read 'PATH': REASON".
std::vector<std::uint8_t> read_file_bytes(const std::string& path);

// Throws Error(IO) when the directory that would hold `path` does not exist or is not a directory.
void check_output_path(const std::string& path);

// ASCII lower case ("RGGB" -> "rggb").
std::string to_lower(std::string text);

// Lower-case extension without the dot ("png"), empty when none.
std::string lower_extension(const std::string& path);

// Natural order: digit runs compare as numbers ("left2" < "left10").
bool natural_less(const std::string& a, const std::string& b);

// Files matching a glob pattern, sorted naturally (left2 before left10); a pattern without
// wildcards names one file. Throws Error(InvalidInput) "no images match WHAT 'PATTERN'" when
// nothing matches (`what` names the list for the message, e.g. a CLI option).
std::vector<std::string> expand_glob(const std::string& pattern, const std::string& what);

}  // namespace dualcam
