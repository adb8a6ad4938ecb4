#pragma once
// Strict readers of JSON documents written by people (regress manifests, simulator recipes):
// every value is checked for its type and range, unknown keys are refused, and a failure is one
// Error(InvalidInput) line that says where the value sits, e.g.
//   "manifest.json: case 'x': inputs.simulate.seed: must be in [0, 4294967295], got -1".
#include <cstddef>
#include <string>
#include <utility>
#include <vector>

#include "dualcam/engine/report.hpp"

namespace dualcam::strict_json {

// Where a value sits: a prefix (the document, and e.g. the case) and the dotted key path inside.
struct Where {
  std::string prefix;
  std::string key;
  Where at(const std::string& sub) const { return {prefix, key.empty() ? sub : key + "." + sub}; }
  Where at(std::size_t index) const { return {prefix, key + "[" + std::to_string(index) + "]"}; }
  std::string text() const { return key.empty() ? prefix : prefix + ": " + key; }
  [[noreturn]] void fail(const std::string& problem) const;
};

const char* type_name(const Json& v);
// `obj` must be an object whose keys are all in `allowed`.
void check_keys(const Json& obj, const Where& w, const std::vector<std::string>& allowed);
const Json* find(const Json& obj, const std::string& key);
std::string get_string(const Json& v, const Where& w);  // non-empty
double get_number(const Json& v, const Where& w, double lo, double hi);
long long get_int(const Json& v, const Where& w, long long lo, long long hi);
bool get_bool(const Json& v, const Where& w);
std::string get_choice(const Json& v, const Where& w, const std::vector<std::string>& choices);
std::vector<double> get_numbers(const Json& v, const Where& w, std::size_t lo_count, std::size_t hi_count, double lo,
                                double hi);
std::pair<int, int> get_size(const Json& v, const Where& w, int lo, int hi);  // [WIDTH, HEIGHT]

}  // namespace dualcam::strict_json
