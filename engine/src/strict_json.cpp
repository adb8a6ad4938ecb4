#include "dualcam/engine/strict_json.hpp"

#include <cmath>

#include "dualcam/engine/error.hpp"

namespace dualcam::strict_json {

void Where::fail(const std::string& problem) const { throw_invalid(text() + ": " + problem); }

const char* type_name(const Json& v) {
  if (v.is_null()) return "null";
  if (v.is_boolean()) return "a boolean";
  if (v.is_number_integer() || v.is_number_unsigned()) return "an integer";
  if (v.is_number()) return "a number";
  if (v.is_string()) return "a string";
  if (v.is_array()) return "an array";
  return "an object";
}

void check_keys(const Json& obj, const Where& w, const std::vector<std::string>& allowed) {
  if (!obj.is_object()) w.fail(std::string("expected an object, got ") + type_name(obj));
  for (const auto& item : obj.items()) {
    bool known = false;
    for (const auto& a : allowed) known = known || a == item.key();
    if (!known) {
      std::string list;
      for (const auto& a : allowed) list += (list.empty() ? "" : ", ") + a;
      w.at(item.key()).fail("unknown key (allowed here: " + list + ")");
    }
  }
}

const Json* find(const Json& obj, const std::string& key) {
  auto it = obj.find(key);
  return it == obj.end() ? nullptr : &*it;
}

std::string get_string(const Json& v, const Where& w) {
  if (!v.is_string()) w.fail(std::string("expected a string, got ") + type_name(v));
  const std::string s = v.get<std::string>();
  if (s.empty()) w.fail("must not be empty");
  return s;
}

double get_number(const Json& v, const Where& w, double lo, double hi) {
  if (!v.is_number()) w.fail(std::string("expected a number, got ") + type_name(v));
  const double x = v.get<double>();
  if (!std::isfinite(x) || x < lo || x > hi)
    w.fail("must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.dump());
  return x;
}

long long get_int(const Json& v, const Where& w, long long lo, long long hi) {
  if (!v.is_number_integer() && !v.is_number_unsigned()) w.fail(std::string("expected an integer, got ") + type_name(v));
  if (v.is_number_unsigned() && v.get<unsigned long long>() > static_cast<unsigned long long>(hi))
    w.fail("must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.dump());
  const long long x = v.is_number_unsigned() ? static_cast<long long>(v.get<unsigned long long>()) : v.get<long long>();
  if (x < lo || x > hi) w.fail("must be in [" + std::to_string(lo) + ", " + std::to_string(hi) + "], got " + v.dump());
  return x;
}

bool get_bool(const Json& v, const Where& w) {
  if (!v.is_boolean()) w.fail(std::string("expected true or false, got ") + type_name(v));
  return v.get<bool>();
}

std::string get_choice(const Json& v, const Where& w, const std::vector<std::string>& choices) {
  const std::string s = get_string(v, w);
  for (const auto& c : choices)
    if (c == s) return s;
  std::string list;
  for (const auto& c : choices) list += (list.empty() ? "" : ", ") + c;
  w.fail("'" + s + "' is not one of " + list);
}

std::vector<double> get_numbers(const Json& v, const Where& w, std::size_t lo_count, std::size_t hi_count, double lo,
                                double hi) {
  if (!v.is_array()) w.fail(std::string("expected an array of numbers, got ") + type_name(v));
  if (v.size() < lo_count || v.size() > hi_count)
    w.fail("expected " + (lo_count == hi_count ? std::to_string(lo_count) : std::to_string(lo_count) + " to " + std::to_string(hi_count)) +
           " numbers, got " + std::to_string(v.size()));
  std::vector<double> out;
  for (std::size_t i = 0; i < v.size(); ++i) out.push_back(get_number(v[i], w.at(i), lo, hi));
  return out;
}

std::pair<int, int> get_size(const Json& v, const Where& w, int lo, int hi) {
  if (!v.is_array() || v.size() != 2) w.fail("expected [WIDTH, HEIGHT]");
  return {int(get_int(v[0], w.at(0), lo, hi)), int(get_int(v[1], w.at(1), lo, hi))};
}

}  // namespace dualcam::strict_json
