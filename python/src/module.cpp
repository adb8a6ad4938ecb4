// The Python module `dualcam`: the library's jobs as functions on numpy arrays (docs/python.md).
//
// Every function takes its arrays as arrays.hpp says, builds the library's options from its
// keyword arguments (their defaults are the library's, their checks the library's validate()),
// releases the GIL and runs the same library calls as the CLI's subcommand inside a ThreadScope
// of `threads`, then hands the results back as arrays without copying them.
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "arrays.hpp"
#include "dualcam/calibration/board.hpp"
#include "dualcam/calibration/stereo_calibrate.hpp"
#include "dualcam/calibration/stereo_views.hpp"
#include "dualcam/datasets/board_sim.hpp"
#include "dualcam/datasets/recipe.hpp"
#include "dualcam/datasets/sample.hpp"
#include "dualcam/datasets/simulate.hpp"
#include "dualcam/engine/color.hpp"
#include "dualcam/engine/depth_photo.hpp"
#include "dualcam/engine/error.hpp"
#include "dualcam/engine/file_util.hpp"
#include "dualcam/engine/image_io.hpp"
#include "dualcam/engine/inputs.hpp"
#include "dualcam/engine/metrics.hpp"
#include "dualcam/engine/parallel.hpp"
#include "dualcam/engine/report.hpp"
#include "dualcam/engine/rig.hpp"
#include "dualcam/engine/version.hpp"
#include "dualcam/eval/bokeh_eval.hpp"
#include "dualcam/eval/real_eval.hpp"
#include "dualcam/fusion/bokeh.hpp"
#include "dualcam/fusion/pipeline.hpp"
#include "dualcam/fusion/refocus.hpp"

namespace py = pybind11;
using namespace pybind11::literals;

namespace dualcam::python {
namespace {

// ---- exceptions: dualcam.Error and one subclass per ErrorCategory ----

PyObject* g_error = nullptr;
PyObject* g_invalid = nullptr;
PyObject* g_io = nullptr;
PyObject* g_calibration = nullptr;
PyObject* g_numerical = nullptr;

PyObject* new_exception(py::module_& m, const char* name, PyObject* base, PyObject* builtin, const char* doc) {
  const std::string full = std::string("dualcam.") + name;
  py::tuple bases = builtin ? py::make_tuple(py::handle(base), py::handle(builtin)) : py::make_tuple(py::handle(base));
  PyObject* e = PyErr_NewExceptionWithDoc(full.c_str(), doc, bases.ptr(), nullptr);
  if (!e) throw py::error_already_set();
  m.attr(name) = py::handle(e);
  return e;
}

PyObject* exception_for(ErrorCategory category) {
  switch (category) {
    case ErrorCategory::InvalidInput: return g_invalid;
    case ErrorCategory::IO: return g_io;
    case ErrorCategory::Calibration: return g_calibration;
    case ErrorCategory::Numerical: return g_numerical;
  }
  return g_error;
}

// ---- small conversions ----

// nlohmann::json -> Python objects (dict, list, str, int, float, bool, None).
py::object to_python(const Json& j) { return py::module_::import("json").attr("loads")(j.dump()); }

// Python values -> JSON (a recipe's keys): numbers, strings, booleans, lists and tuples of them;
// numpy scalars and arrays as their Python values.
Json to_json(const py::object& o, const std::string& what) {
  const py::object json = py::module_::import("json");
  py::object as_python = py::cpp_function([](const py::object& v) -> py::object {
    if (py::hasattr(v, "tolist")) return v.attr("tolist")();
    throw py::type_error("not a number, string, list or tuple");
  });
  try {
    return Json::parse(std::string(py::str(json.attr("dumps")(o, "default"_a = as_python))));
  } catch (const py::error_already_set& e) {
    throw_invalid(what + ": values must be numbers, strings, booleans, lists or tuples (" + std::string(e.what()) + ")");
  }
}

py::array_t<double> matx_array(const double* values, int rows, int cols) {
  py::array_t<double> a({rows, cols});
  std::copy(values, values + rows * cols, a.mutable_data());
  return a;
}

template <int R, int C>
cv::Matx<double, R, C> to_matx(const py::object& value, const char* name) {
  py::array_t<double, py::array::c_style | py::array::forcecast> a;
  try {
    a = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(value);
  } catch (const py::error_already_set&) {
  }
  if (!a || a.size() != R * C)
    throw_invalid(std::string(name) + ": expected " + std::to_string(R) + "x" + std::to_string(C) + " numbers");
  cv::Matx<double, R, C> m;
  std::copy(a.data(), a.data() + R * C, m.val);
  return m;
}

cv::Size to_size(const py::object& value, const char* name) {
  std::vector<int> v;
  try {
    v = value.cast<std::vector<int>>();
  } catch (const py::cast_error&) {
  }
  if (v.size() != 2 || v[0] <= 0 || v[1] <= 0) throw_invalid(std::string(name) + ": expected (width, height), two positive integers");
  return {v[0], v[1]};
}

// Runs `f` without the GIL inside a ThreadScope of `threads`, returning its value and wall seconds.
template <typename F>
auto run_released(int threads, double* seconds, F&& f) -> decltype(f()) {
  py::gil_scoped_release release;
  ThreadScope scope(threads);
  Stopwatch watch;
  auto result = scope.run(std::forward<F>(f));
  if (seconds) *seconds = watch.seconds();
  return result;
}

ArrayKind array_kind(const std::string& kind) {
  if (kind == "image") return ArrayKind::Image;
  if (kind == "grey") return ArrayKind::Grey;
  if (kind == "color") return ArrayKind::Colour;
  if (kind == "disparity") return ArrayKind::Disparity;
  throw_invalid("kind must be 'image', 'grey', 'color' or 'disparity', got '" + kind + "'");
}

// ---- Rig ----

// The rig argument of the pair functions: None, a Rig, a rig file's path, or "auto".
struct RigArgument {
  std::optional<StereoRig> rig;
  bool auto_rig = false;
};

RigArgument rig_argument(const py::object& rig) {
  RigArgument r;
  if (rig.is_none()) return r;
  if (py::isinstance<StereoRig>(rig)) {
    r.rig = rig.cast<StereoRig>();
    r.rig->validate();
    return r;
  }
  if (py::isinstance<py::str>(rig) || py::hasattr(rig, "__fspath__")) {
    const std::string s = py::str(py::module_::import("os").attr("fspath")(rig));
    if (s == "auto") r.auto_rig = true;
    else r.rig = read_rig(s);
    return r;
  }
  throw_invalid("rig: expected a dualcam.Rig, a rig file's path, 'auto' or None");
}

// ---- the pair functions: the same options and calls as `dualcam fuse` / `dualcam depth` ----

struct PairCall {
  TakenArray mono, color;
  RigArgument rig;
  fusion::FuseOptions options;
  CameraPair images;
  fusion::FuseInput input;
};

PairCall pair_call(const py::object& mono, const py::object& color, const py::object& rig, bool rectified,
                   const std::string& reference, const std::string& matcher, int max_disparity) {
  PairCall c;
  c.mono = take_array(mono, "mono", ArrayKind::Image);
  c.color = take_array(color, "color", ArrayKind::Colour);
  c.rig = rig_argument(rig);
  if (rectified && (c.rig.rig || c.rig.auto_rig)) throw_invalid("give either rig or rectified=True, not both");
  if (!rectified && !c.rig.rig && !c.rig.auto_rig)
    throw_invalid("give the rig (a dualcam.Rig, a rig file or 'auto'), or rectified=True for a rectified pair");
  c.options.reference = fusion::parse_reference(reference);
  c.options.rectified = rectified;
  c.options.auto_rig = c.rig.auto_rig;
  c.options.match.kind = fusion::parse_matcher(matcher);
  c.options.match.max_disparity = max_disparity;
  c.options.validate();
  return c;
}

// engine/inputs.hpp's rule on the arrays, then fusion's input check (run without the GIL).
void prepare(PairCall& c) {
  c.images = camera_pair(c.mono.mat, c.color.mat);
  c.input = fusion::fuse_input(c.images, nullptr);
  c.input.rig = c.rig.rig ? &*c.rig.rig : nullptr;
  fusion::validate_input(c.input, c.options);
}

struct FuseResultPy {
  py::object image, linear, disparity, confidence, weight, stats;
  double seconds = 0;
};

struct DepthResultPy {
  py::object disparity, confidence, stats;
  double seconds = 0;
};

struct BokehResultPy {
  py::object image, linear, sharp, disparity, fuse_stats;
  double focus_disparity_px = 0, blur_per_disparity = 0, max_radius_px = 0;
  int layers = 0, reduced_layers = 0;
  std::string aperture;
  double seconds = 0;
};

FuseResultPy fuse(const py::object& mono, const py::object& color, const py::object& rig, bool rectified,
                  const std::string& reference, const std::string& matcher, int max_disparity, int threads) {
  PairCall c = pair_call(mono, color, rig, rectified, reference, matcher, max_disparity);
  cv::Mat encoded;
  FuseResultPy out;
  fusion::FuseResult res = run_released(threads, &out.seconds, [&] {
    prepare(c);
    fusion::FuseResult r = fusion::fuse(c.input, c.options, nullptr);
    encoded = to_srgb(r.image, c.images.color.depth());
    return r;
  });
  out.image = to_array(encoded);
  out.linear = to_array(res.image);
  out.disparity = to_array(res.disparity);
  out.confidence = to_array(res.confidence);
  out.weight = to_array(res.weight);
  out.stats = to_python(res.stats.to_json());
  return out;
}

DepthResultPy depth(const py::object& mono, const py::object& color, const py::object& rig, bool rectified,
                    const std::string& reference, const std::string& matcher, int max_disparity, int threads) {
  PairCall c = pair_call(mono, color, rig, rectified, reference, matcher, max_disparity);
  DepthResultPy out;
  fusion::DepthResult res = run_released(threads, &out.seconds, [&] {
    prepare(c);
    return fusion::compute_depth(c.input, c.options, nullptr);
  });
  out.disparity = to_array(res.disparity);
  out.confidence = to_array(res.confidence);
  out.stats = to_python(res.stats.to_json());
  return out;
}

// The focus and blur of `dualcam bokeh`, as keyword arguments.
fusion::RefocusOptions refocus_options(const py::object& focus, const std::optional<double>& focus_disparity,
                                       const std::optional<double>& max_blur, const std::optional<double>& f_number,
                                       const std::string& aperture, double highlights, int focus_window,
                                       double pixel_pitch_um) {
  fusion::RefocusOptions ro;
  if (focus.is_none() == !focus_disparity.has_value())
    throw_invalid("give the focus: focus=(x, y) or focus_disparity=D (exactly one)");
  if (!max_blur.has_value() == !f_number.has_value())
    throw_invalid("give the blur: f_number=F or max_blur=R (exactly one)");
  if (!focus.is_none()) {
    std::vector<int> p;
    try {
      p = focus.cast<std::vector<int>>();
    } catch (const py::cast_error&) {
    }
    if (p.size() != 2) throw_invalid("focus: expected (x, y) in pixels");
    ro.focus_point = cv::Point(p[0], p[1]);
  } else {
    ro.focus_disparity_px = focus_disparity;
  }
  ro.max_blur_px = max_blur;
  ro.f_number = f_number;
  try {
    ro.aperture = fusion::parse_aperture(aperture);
  } catch (const Error& e) {
    throw_invalid(std::string("aperture: ") + e.what());
  }
  ro.highlight_gain = highlights;
  ro.focus_window = focus_window;
  ro.pixel_pitch_um = pixel_pitch_um;
  ro.validate();
  return ro;
}

BokehResultPy bokeh_result(const fusion::BokehResult& res, const cv::Mat& encoded, double seconds) {
  BokehResultPy out;
  out.image = to_array(encoded);
  out.linear = to_array(res.image);
  out.sharp = to_array(res.sharp);
  out.disparity = to_array(res.disparity);
  out.focus_disparity_px = res.bokeh.focus_disparity_px;
  out.blur_per_disparity = res.bokeh.blur_per_disparity;
  out.max_radius_px = res.stats.max_radius_px;
  out.layers = res.stats.layers;
  out.reduced_layers = res.stats.reduced_layers;
  out.aperture = fusion::to_string(res.bokeh.aperture);
  out.fuse_stats = res.fuse_stats ? to_python(res.fuse_stats->to_json()) : py::none();
  out.seconds = seconds;
  return out;
}

BokehResultPy bokeh(const py::object& image, const py::object& disparity, const py::object& focus,
                    std::optional<double> focus_disparity, std::optional<double> max_blur,
                    std::optional<double> f_number, const py::object& rig, const std::string& reference,
                    const std::string& aperture, double highlights, int focus_window, double pixel_pitch_um,
                    int refine_disparity, int threads) {
  const TakenArray img = take_array(image, "image", ArrayKind::Image);
  const TakenArray disp = take_array(disparity, "disparity", ArrayKind::Disparity);
  const fusion::RefocusOptions ro =
      refocus_options(focus, focus_disparity, max_blur, f_number, aperture, highlights, focus_window, pixel_pitch_um);
  const RigArgument r = rig_argument(rig);
  if (r.auto_rig) throw_invalid("rig: 'auto' estimates a pair's alignment; bokeh of an image takes a rig file or None");
  check_range("refine_disparity", refine_disparity, 0, 100);
  const fusion::Reference view = fusion::parse_reference(reference);
  cv::Mat encoded;
  double seconds = 0;
  fusion::BokehResult res = run_released(threads, &seconds, [&] {
    fusion::BokehResult b = fusion::bokeh_from_image(to_linear_bgr(img.mat), disp.mat, r.rig ? &*r.rig : nullptr,
                                                     view, ro, refine_disparity);
    encoded = to_srgb(b.image, img.mat.depth());
    return b;
  });
  return bokeh_result(res, encoded, seconds);
}

BokehResultPy bokeh_from_pair(const py::object& mono, const py::object& color, const py::object& rig,
                              const py::object& focus, std::optional<double> focus_disparity,
                              std::optional<double> max_blur, std::optional<double> f_number,
                              const std::string& reference, const std::string& aperture, double highlights,
                              int focus_window, double pixel_pitch_um, int refine_disparity, int threads) {
  PairCall c = pair_call(mono, color, rig, false, reference, "census", 0);
  const fusion::RefocusOptions ro =
      refocus_options(focus, focus_disparity, max_blur, f_number, aperture, highlights, focus_window, pixel_pitch_um);
  check_range("refine_disparity", refine_disparity, 0, 100);
  cv::Mat encoded;
  double seconds = 0;
  fusion::BokehResult res = run_released(threads, &seconds, [&] {
    prepare(c);
    fusion::BokehResult b = fusion::bokeh_from_pair(c.input, c.options, ro, refine_disparity, nullptr);
    encoded = to_srgb(b.image, c.images.color.depth());
    return b;
  });
  return bokeh_result(res, encoded, seconds);
}

// ---- calibrate ----

struct CalibrationResultPy {
  std::shared_ptr<calibration::StereoCalibrationResult> result;
  bool passed = true;
  std::vector<std::string> failed;
  py::object report;
  std::vector<std::string> unusable;
  double seconds = 0;
};

// A list of images: a glob (natural order), a list of paths, or a list of arrays.
struct ImageList {
  std::vector<std::string> files;
  std::vector<TakenArray> arrays;
};

ImageList image_list(const py::object& value, const std::string& name) {
  ImageList l;
  if (py::isinstance<py::str>(value) || py::hasattr(value, "__fspath__")) {
    l.files = expand_glob(py::str(py::module_::import("os").attr("fspath")(value)), name);
    return l;
  }
  if (!py::isinstance<py::sequence>(value) || py::isinstance<py::array>(value))
    throw_invalid(name + ": expected a glob, a list of paths or a list of image arrays");
  const py::sequence seq = value.cast<py::sequence>();
  for (std::size_t i = 0; i < seq.size(); ++i) {
    const py::object item = seq[i];
    const std::string where = name + "[" + std::to_string(i) + "]";
    if (py::isinstance<py::str>(item) || py::hasattr(item, "__fspath__"))
      l.files.push_back(py::str(py::module_::import("os").attr("fspath")(item)));
    else
      l.arrays.push_back(take_array(item, where, ArrayKind::Image));
  }
  if (!l.files.empty() && !l.arrays.empty()) throw_invalid(name + ": give paths or arrays, not both");
  return l;
}

CalibrationResultPy calibrate(const py::object& mono, const py::object& color, const std::string& board,
                              double max_rms, double max_row_error, const std::vector<std::string>& fix,
                              int min_views, bool halves, bool drop_outlier_views, int threads) {
  const calibration::BoardSpec spec = calibration::parse_board_spec(board);
  calibration::StereoCalibrationOptions co;
  co.fixed = fix;
  co.min_views = min_views;
  co.halves = halves;
  co.drop_outlier_views = drop_outlier_views;
  co.validate();
  const ImageList m = image_list(mono, "mono"), c = image_list(color, "color");
  const std::size_t nm = m.files.size() + m.arrays.size(), nc = c.files.size() + c.arrays.size();
  if (nm != nc)
    throw_invalid("mono has " + std::to_string(nm) + " images but color has " + std::to_string(nc) +
                  "; pairs are matched by order, so the counts must agree");
  if (m.files.empty() != c.files.empty()) throw_invalid("give both lists as paths, or both as arrays");
  CalibrationResultPy out;
  calibration::StereoViewSet set;
  auto res = run_released(threads, &out.seconds, [&] {
    if (!m.files.empty()) {
      set = calibration::load_stereo_views(m.files, c.files, spec);
    } else {
      std::vector<calibration::ImagePair> pairs;
      for (std::size_t i = 0; i < nm; ++i)
        pairs.push_back({"pair " + std::to_string(i), m.arrays[i].mat, c.arrays[i].mat});
      set = calibration::detect_stereo_views(pairs, spec);
    }
    return calibration::calibrate_stereo(set.views, spec, set.mono_size, set.color_size, co);
  });
  const calibration::CalibrationVerdict verdict = calibration::calibration_verdict(res, max_rms, max_row_error);
  res.rig.extras["verdict_pass"] = verdict.pass ? 1 : 0;
  out.passed = verdict.pass;
  out.failed = verdict.failed;
  Json report = {{"calibration", res.to_json()}, {"verdict", verdict.to_json()}};
  out.report = to_python(report);
  for (const auto& u : set.unusable) out.unusable.push_back(u.name + ": " + u.reason);
  out.result = std::make_shared<calibration::StereoCalibrationResult>(std::move(res));
  return out;
}

// ---- simulate, sample ----

struct SimulationPy {
  StereoRig rig;
  py::object mono, color, clean_color_at_color, clean_color_at_mono, depth_mono, depth_color, disparity_mono,
      disparity_color, bokeh;
  double near_mm = 0, far_mm = 0;
};

SimulationPy simulate(int threads, const py::kwargs& recipe) {
  const Json j = to_json(recipe, "simulate");
  const datasets::SimulateOptions options = datasets::simulate_options_from_recipe(j, strict_json::Where{"simulate", ""});
  if (options.raw) throw_invalid("simulate: raw frames are not returned to Python; use `dualcam simulate --raw`");
  datasets::Simulation sim = run_released(threads, nullptr, [&] { return datasets::simulate(options); });
  SimulationPy s;
  s.rig = sim.rig;
  s.mono = to_array(sim.mono);
  s.color = to_array(sim.color);
  s.clean_color_at_color = to_array(sim.clean_color_at_color);
  s.clean_color_at_mono = to_array(sim.clean_color_at_mono);
  s.depth_mono = to_array(sim.depth_mono);
  s.depth_color = to_array(sim.depth_color);
  s.disparity_mono = to_array(sim.disparity_mono);
  s.disparity_color = to_array(sim.disparity_color);
  s.bokeh = to_array(sim.bokeh);
  s.near_mm = sim.near_mm;
  s.far_mm = sim.far_mm;
  return s;
}

struct SamplePy {
  StereoRig rig;
  py::object mono, color, truth_color_at_color, truth_color_at_mono, disparity_mono, disparity_color;
};

SamplePy sample(unsigned seed, double light, int threads) {
  datasets::SampleOptions so;
  so.seed = seed;
  so.light = light;
  so.validate();
  datasets::Sample s = run_released(threads, nullptr, [&] { return datasets::make_sample(so); });
  SamplePy p;
  p.rig = s.rig;
  p.mono = to_array(s.mono);
  p.color = to_array(s.color);
  p.truth_color_at_color = to_array(s.truth_color_at_color);
  p.truth_color_at_mono = to_array(s.truth_color_at_mono);
  p.disparity_mono = to_array(s.disparity_mono);
  p.disparity_color = to_array(s.disparity_color);
  return p;
}

struct BoardViewsPy {
  StereoRig rig;
  std::vector<py::object> mono, color;
};

BoardViewsPy simulate_board_views(const std::string& board, unsigned seed, int views, const py::object& mono_size,
                                  const py::object& color_size, double outside_share, bool noise, int threads) {
  const calibration::BoardSpec spec = calibration::parse_board_spec(board);
  datasets::BoardSetOptions o;
  o.views = views;
  o.mono_size = to_size(mono_size, "mono_size");
  o.color_size = to_size(color_size, "color_size");
  o.outside_share = outside_share;
  o.noise = noise;
  o.validate();
  BoardViewsPy out;
  std::vector<datasets::BoardSetView> set = run_released(threads, nullptr, [&] {
    out.rig = datasets::random_rig(seed, o);
    return datasets::render_board_set(out.rig, spec, seed, o);
  });
  for (const auto& v : set) {
    out.mono.push_back(to_array(v.mono));
    out.color.push_back(to_array(v.color));
  }
  return out;
}

// ---- depth photos ----

struct DepthPhotoPy {
  py::object image, disparity, focus;
  bool all_in_focus = false, metric = false;
  std::string container, format;
  double near = 0, far = 0;
  std::optional<double> disparity_scale;
};

DepthPhotoPy read_depth_photo_py(const std::string& path, std::int64_t max_pixels) {
  RefocusPhoto r;
  {
    py::gil_scoped_release release;
    r = read_refocus_photo(path, max_pixels);
  }
  DepthPhotoPy p;
  p.image = to_array(r.image);
  p.disparity = to_array(r.disparity);
  p.all_in_focus = r.all_in_focus;
  p.container = r.photo.container;
  p.format = to_string(r.photo.depth->format);
  p.near = r.photo.depth->near;
  p.far = r.photo.depth->far;
  p.metric = r.photo.depth->metric;
  p.disparity_scale = r.metric_disparity_scale;
  p.focus = r.photo.focus ? to_python(depth_photo_json(r.photo)["focus"]) : py::none();
  return p;
}

// ---- documentation strings ----

constexpr const char* kPairArgs = R"(
    mono: the mono camera's image, uint8 or uint16, HxW (an HxWx3 grey image is accepted when
        its channels agree, as for files).
    color: the colour camera's image, uint8 or uint16, HxWx3 in OpenCV's BGR order.
    rig: a dualcam.Rig, a rig file's path, or 'auto' to estimate the alignment from the pair.
    rectified: True when the pair is already rectified with the mono on the left (no rig).
    reference: 'color' (default: the output at the colour camera's view) or 'mono'.
    matcher: 'census' (default, census + SGM) or 'sgbm' (OpenCV's, for comparison).
    max_disparity: largest disparity searched, px (0 = a quarter of the width).
    threads: worker threads (0 = all cores).)";

constexpr const char* kRefocusArgs = R"(
    focus: (x, y) in pixels: focus on the median disparity around this point; or
    focus_disparity: focus on this disparity, px (exactly one of the two).
    max_blur: the largest blur radius in the image, px; or
    f_number: a lens of this f-number (needs the rig's focal length and baseline) (exactly one).
    aperture: 'circle', 'hexagon' or 'blades:N' (3..32).
    highlights: gain for near-clipped highlights before blurring (1 = off).
    focus_window: half-size of the focus window, px.
    pixel_pitch_um: sensor pixel pitch for f_number, micrometres.)";

}  // namespace
}  // namespace dualcam::python

PYBIND11_MODULE(dualcam, m) {
  using namespace dualcam;
  using namespace dualcam::python;
  m.doc() = R"(dualcam: a colour + mono dual-camera engine (calibrate, align, fuse, bokeh) for numpy arrays.

Images are numpy arrays as cv2 gives them: uint8 or uint16, grey HxW or colour HxWx3 in BGR order;
disparities float32 HxW in pixels of the image they belong to, NaN = unknown. A C-contiguous input
is read in place; any other layout is copied first. Results are handed back without copies.
Errors are dualcam.Error: InvalidInputError (also a ValueError), FileError (an OSError),
CalibrationError and NumericalError (RuntimeErrors), with the messages of the command line.
Every function releases the GIL while it computes; `threads` = worker threads (0 = all cores).)";
  m.attr("__version__") = DUALCAM_VERSION_STRING;

  g_error = new_exception(m, "Error", PyExc_Exception, nullptr, "Base class of every error dualcam raises.");
  g_invalid = new_exception(m, "InvalidInputError", g_error, PyExc_ValueError,
                            "A value, option, array or file content that makes no sense.");
  g_io = new_exception(m, "FileError", g_error, PyExc_OSError, "A file that cannot be found, read or written.");
  g_calibration = new_exception(m, "CalibrationError", g_error, PyExc_RuntimeError,
                                "Calibration could not produce an answer (too few views, no board, ...).");
  g_numerical = new_exception(m, "NumericalError", g_error, PyExc_RuntimeError,
                              "A computation diverged or produced non-finite values.");
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const Error& e) {
      PyErr_SetString(exception_for(e.category()), e.what());
    } catch (const cv::Exception& e) {
      PyErr_SetString(PyExc_RuntimeError, ("internal error (OpenCV): " + e.err).c_str());
    }
  });

  // ---- Rig ----
  py::class_<CameraModel>(m, "Camera", "One camera of a rig: intrinsics K (3x3, px), distortion, image size.")
      .def(py::init<>())
      .def_property(
          "K", [](const CameraModel& c) { return matx_array(c.K.val, 3, 3); },
          [](CameraModel& c, const py::object& v) { c.K = to_matx<3, 3>(v, "K"); }, "3x3 intrinsics, pixels (a copy)")
      .def_property(
          "dist",
          [](const CameraModel& c) {
            cv::Mat d = c.dist.reshape(1, 1).clone();
            return matx_array(d.ptr<double>(), 1, d.cols).attr("ravel")();
          },
          [](CameraModel& c, const std::vector<double>& v) { c.dist = cv::Mat(v, true).reshape(1, 1); },
          "distortion k1 k2 p1 p2 [k3 ...] (a copy)")
      .def_property(
          "size", [](const CameraModel& c) { return py::make_tuple(c.size.width, c.size.height); },
          [](CameraModel& c, const py::object& v) { c.size = to_size(v, "size"); }, "(width, height), pixels");

  py::class_<StereoRig>(m, "Rig", R"(The calibration of a colour + mono module (the YAML rig file of the command line).

Camera 1 is the mono, camera 2 the colour; X_color = R @ X_mono + T (T in the board's unit, mm).)")
      .def(py::init<>())
      .def_static("read", &read_rig, "path"_a, "Reads a rig file (FileError when missing, InvalidInputError when malformed).")
      .def_static(
          "from_yaml", [](const std::string& text) { return parse_rig(text, "(text)"); }, "text"_a,
          "Parses a rig from its YAML text.")
      .def(
          "write", [](const StereoRig& r, const std::string& path) { write_rig(path, r); }, "path"_a,
          "Writes the rig file atomically (E and F derived).")
      .def(
          "to_yaml", [](const StereoRig& r) { return format_rig(r); }, "The rig file's YAML text.")
      .def("validate", &StereoRig::validate, "Raises InvalidInputError naming what is wrong.")
      .def_readwrite("mono", &StereoRig::mono, "the mono camera (camera 1)")
      .def_readwrite("color", &StereoRig::color, "the colour camera (camera 2)")
      .def_property(
          "R", [](const StereoRig& r) { return matx_array(r.R.val, 3, 3); },
          [](StereoRig& r, const py::object& v) { r.R = to_matx<3, 3>(v, "R"); }, "colour-from-mono rotation (3x3, a copy)")
      .def_property(
          "T", [](const StereoRig& r) { return matx_array(r.T.val, 1, 3).attr("ravel")(); },
          [](StereoRig& r, const py::object& v) { r.T = cv::Vec3d(to_matx<3, 1>(v, "T").val); },
          "colour-from-mono translation (3, a copy)")
      .def_property_readonly("baseline", &StereoRig::baseline, "|T|")
      .def_readwrite("extras", &StereoRig::extras, "scalar extras of the rig file (rms_px, ...)")
      .def("__repr__", [](const StereoRig& r) {
        return "<dualcam.Rig mono " + std::to_string(r.mono.size.width) + "x" + std::to_string(r.mono.size.height) +
               ", colour " + std::to_string(r.color.size.width) + "x" + std::to_string(r.color.size.height) +
               ", baseline " + std::to_string(r.baseline()) + ">";
      });

  // ---- files ----
  m.def(
      "imread",
      [](const std::string& path, std::int64_t max_pixels) {
        ImageReadOptions o;
        o.max_pixels = max_pixels;
        return to_array(read_image(path, o));
      },
      "path"_a, "max_pixels"_a = ImageReadOptions{}.max_pixels,
      "Reads a PNG/JPEG/TIFF image as the command line does (uint8 or uint16, grey HxW or BGR HxWx3).");
  m.def(
      "imwrite",
      [](const std::string& path, const py::object& image) {
        const TakenArray t = take_array(image, "image", ArrayKind::Image);
        py::gil_scoped_release release;
        write_image(path, t.mat);
      },
      "path"_a, "image"_a,
      "Writes an image atomically by its extension, byte for byte as the command line writes it.");
  m.def(
      "read_pfm", [](const std::string& path) { return to_array(read_pfm(path)); }, "path"_a,
      "Reads a PFM disparity (float32).");
  m.def(
      "write_pfm",
      [](const std::string& path, const py::object& disparity) {
        write_pfm(path, take_array(disparity, "disparity", ArrayKind::Disparity).mat);
      },
      "path"_a, "disparity"_a, "Writes a float32 HxW array as PFM, atomically.");
  m.def(
      "array_layout",
      [](const py::object& array, const std::string& kind) {
        const TakenArray t = take_array(array, "array", array_kind(kind));
        py::dict d;
        d["copied"] = t.copied;
        d["reason"] = t.reason;
        d["shares_memory"] = t.mat.data == static_cast<const uchar*>(py::array(array).data());
        return d;
      },
      "array"_a, "kind"_a = "image",
      "How a function takes this array: {'copied': bool, 'reason': str, 'shares_memory': bool}. Raises "
      "InvalidInputError for an array no function takes as `kind` ('image', 'grey', 'color', 'disparity').");

  // ---- fuse / depth ----
  py::class_<FuseResultPy>(m, "FuseResult", "What fuse() returns.")
      .def_readonly("image", &FuseResultPy::image, "the fused image, encoded as the command line writes it (uint8 or uint16 BGR, the colour input's depth)")
      .def_readonly("linear", &FuseResultPy::linear, "the same before encoding: float32 HxWx3 linear BGR")
      .def_readonly("disparity", &FuseResultPy::disparity, "float32 HxW at the reference view, px, NaN = unknown")
      .def_readonly("confidence", &FuseResultPy::confidence, "float32 HxW in [0, 1]")
      .def_readonly("weight", &FuseResultPy::weight, "float32 HxW: share of luminance taken from the other view")
      .def_readonly("stats", &FuseResultPy::stats, "alignment, match, merge and stage seconds (the --json report's stats)")
      .def_readonly("seconds", &FuseResultPy::seconds, "wall seconds of the engine's work inside the call");
  py::class_<DepthResultPy>(m, "DepthResult", "What depth() returns.")
      .def_readonly("disparity", &DepthResultPy::disparity, "float32 HxW at the reference view, px, NaN = unknown")
      .def_readonly("confidence", &DepthResultPy::confidence, "float32 HxW in [0, 1]")
      .def_readonly("stats", &DepthResultPy::stats, "alignment, match and stage seconds")
      .def_readonly("seconds", &DepthResultPy::seconds, "wall seconds of the engine's work inside the call");
  const std::string pair_doc = std::string(kPairArgs);
  m.def("fuse", &fuse, "mono"_a, "color"_a, "rig"_a = py::none(), py::kw_only(), "rectified"_a = false,
        "reference"_a = "color", "matcher"_a = "census", "max_disparity"_a = 0, "threads"_a = 0,
        ("Aligns a colour + mono pair and merges it into one colour image (`dualcam fuse`).\n\nArgs:" + pair_doc +
         "\n\nReturns: FuseResult (image, linear, disparity, confidence, weight, stats, seconds).")
            .c_str());
  m.def("depth", &depth, "mono"_a, "color"_a, "rig"_a = py::none(), py::kw_only(), "rectified"_a = false,
        "reference"_a = "color", "matcher"_a = "census", "max_disparity"_a = 0, "threads"_a = 0,
        ("The disparity of the reference view (`dualcam depth`).\n\nArgs:" + pair_doc +
         "\n\nReturns: DepthResult (disparity, confidence, stats, seconds).")
            .c_str());

  // ---- bokeh ----
  py::class_<BokehResultPy>(m, "BokehResult", "What bokeh() and bokeh_from_pair() return.")
      .def_readonly("image", &BokehResultPy::image, "the refocused image, encoded (uint8 or uint16 BGR, the input's depth)")
      .def_readonly("linear", &BokehResultPy::linear, "float32 HxWx3 linear BGR, not clipped")
      .def_readonly("sharp", &BokehResultPy::sharp, "the all-in-focus image it was rendered from, float32 linear BGR")
      .def_readonly("disparity", &BokehResultPy::disparity, "the disparity it was rendered with (refined, holes filled)")
      .def_readonly("focus_disparity_px", &BokehResultPy::focus_disparity_px)
      .def_readonly("blur_per_disparity", &BokehResultPy::blur_per_disparity)
      .def_readonly("max_radius_px", &BokehResultPy::max_radius_px)
      .def_readonly("layers", &BokehResultPy::layers)
      .def_readonly("reduced_layers", &BokehResultPy::reduced_layers)
      .def_readonly("aperture", &BokehResultPy::aperture)
      .def_readonly("fuse_stats", &BokehResultPy::fuse_stats, "bokeh_from_pair: the fuse's stats; else None")
      .def_readonly("seconds", &BokehResultPy::seconds, "wall seconds of the engine's work inside the call");
  const std::string refocus_doc = std::string(kRefocusArgs);
  m.def("bokeh", &bokeh, "image"_a, "disparity"_a, py::kw_only(), "focus"_a = py::none(),
        "focus_disparity"_a = py::none(), "max_blur"_a = py::none(), "f_number"_a = py::none(), "rig"_a = py::none(),
        "reference"_a = "color", "aperture"_a = "circle", "highlights"_a = 1.0, "focus_window"_a = 7,
        "pixel_pitch_um"_a = 1.0, "refine_disparity"_a = 0, "threads"_a = 0,
        ("Synthetic depth of field of an image from its disparity (`dualcam bokeh --image --disparity`).\n\nArgs:\n"
         "    image: uint8 or uint16, HxW or HxWx3 BGR (sRGB-encoded, as files hold it).\n"
         "    disparity: float32 HxW, px, NaN = unknown (what fuse() and depth() return)." +
         refocus_doc +
         "\n    rig: for f_number (a dualcam.Rig or a rig file); reference: whose focal length f_number uses.\n"
         "    refine_disparity: edge-aware refinement radius of the disparity, px (0 = off).\n"
         "    threads: worker threads (0 = all cores).\n\nReturns: BokehResult.")
            .c_str());
  m.def("bokeh_from_pair", &bokeh_from_pair, "mono"_a, "color"_a, "rig"_a, py::kw_only(), "focus"_a = py::none(),
        "focus_disparity"_a = py::none(), "max_blur"_a = py::none(), "f_number"_a = py::none(),
        "reference"_a = "color", "aperture"_a = "circle", "highlights"_a = 1.0, "focus_window"_a = 7,
        "pixel_pitch_um"_a = 1.0, "refine_disparity"_a = fusion::kBokehEdgeSnapRadius, "threads"_a = 0,
        ("Fuses the pair, then refocuses the fused image (`dualcam bokeh --mono --color --rig`).\n\nArgs:\n"
         "    mono, color, rig: as for fuse()." +
         refocus_doc +
         "\n    refine_disparity: edge snap of the fused disparity, px (0 = off; default 7).\n"
         "    threads: worker threads (0 = all cores).\n\nReturns: BokehResult (with fuse_stats).")
            .c_str());

  // ---- calibrate ----
  py::class_<CalibrationResultPy>(m, "CalibrationResult", "What calibrate() returns.")
      .def_property_readonly("rig", [](const CalibrationResultPy& r) { return r.result->rig; }, "the calibrated Rig")
      .def_property_readonly("rms_px", [](const CalibrationResultPy& r) { return r.result->rms_px; })
      .def_property_readonly("rms_mono_px", [](const CalibrationResultPy& r) { return r.result->rms_mono_px; })
      .def_property_readonly("rms_color_px", [](const CalibrationResultPy& r) { return r.result->rms_color_px; })
      .def_property_readonly("row_error_px", [](const CalibrationResultPy& r) { return r.result->row_error_px; },
                             "mean rectified row error of the stereo pairs' corners, px")
      .def_property_readonly("views_used", [](const CalibrationResultPy& r) { return r.result->views_used; })
      .def_property_readonly("views_total", [](const CalibrationResultPy& r) { return r.result->views_total; })
      .def_property_readonly("rotation_sigma_deg", [](const CalibrationResultPy& r) { return r.result->sigma.rotation_deg; },
                             "1-sigma of the extrinsic rotation, degrees")
      .def_property_readonly("baseline_sigma_mm", [](const CalibrationResultPy& r) { return r.result->sigma.baseline_mm; },
                             "1-sigma of the baseline, mm")
      .def_property_readonly(
          "extrinsics_covariance",
          [](const CalibrationResultPy& r) { return matx_array(r.result->sigma.extrinsics_cov.val, 6, 6); },
          "6x6 covariance of the extrinsics: angle-axis (rad) then T (mm)")
      .def_readonly("passed", &CalibrationResultPy::passed, "the verdict: no limit exceeded")
      .def_readonly("failed", &CalibrationResultPy::failed, "each exceeded limit, with both figures")
      .def_readonly("unusable", &CalibrationResultPy::unusable, "the views without the board in an image, with the reason")
      .def_readonly("report", &CalibrationResultPy::report, "everything: the --json report's calibration and verdict")
      .def_readonly("seconds", &CalibrationResultPy::seconds)
      .def(
          "write_rig",
          [](const CalibrationResultPy& r, const std::string& path) {
            write_rig(path, r.result->rig, r.result->rectification_matrices());
          },
          "path"_a, "Writes the rig file as `dualcam calibrate -o` does (with R1 R2 P1 P2 Q).");
  m.def("calibrate", &calibrate, "mono"_a, "color"_a, py::kw_only(), "board"_a, "max_rms"_a = 0.0,
        "max_row_error"_a = 0.0, "fix"_a = std::vector<std::string>{}, "min_views"_a = calibration::StereoCalibrationOptions{}.min_views,
        "halves"_a = true, "drop_outlier_views"_a = false, "threads"_a = 0,
        R"(Calibrates a mono + colour module from board image pairs (`dualcam calibrate`).

Args:
    mono, color: a glob ('shots/left*.png', natural order), a list of paths, or a list of image
        arrays; paired by order.
    board: 'chessboard:COLSxROWS:SQUARE' (inner corners) or 'charuco:DICT:COLSxROWS:SQUARE:MARKER',
        lengths with a unit, e.g. 'chessboard:9x6:24.23mm'.
    max_rms, max_row_error: the verdict's limits, px (0 = none).
    fix: parameters held fixed ('fx', 'mono.k3', ...).
    min_views: fewest usable views. halves: also calibrate the odd and even views separately.
    drop_outlier_views: drop pairs whose two images disagree (default: intrinsics only).
    threads: worker threads (0 = all cores).

Returns: CalibrationResult (rig, figures, verdict, report). Raises CalibrationError when too few
views are usable.)");

  // ---- depth photos ----
  py::class_<DepthPhotoPy>(m, "DepthPhoto", "What read_depth_photo() returns.")
      .def_readonly("image", &DepthPhotoPy::image, "the image to refocus: the all-in-focus GImage when there is one, else the primary")
      .def_readonly("disparity", &DepthPhotoPy::disparity, "float32 at the image's size: px when dualcam wrote it, else 1 / Z (relative); NaN unknown")
      .def_readonly("all_in_focus", &DepthPhotoPy::all_in_focus, "image is the photo's GImage")
      .def_readonly("container", &DepthPhotoPy::container, "'GDepth' or 'DynamicDepth'")
      .def_readonly("format", &DepthPhotoPy::format, "the depth's format: 'RangeInverse' or 'RangeLinear'")
      .def_readonly("near", &DepthPhotoPy::near)
      .def_readonly("far", &DepthPhotoPy::far)
      .def_readonly("metric", &DepthPhotoPy::metric, "near / far in the rig's units (else relative)")
      .def_readonly("disparity_scale", &DepthPhotoPy::disparity_scale, "K = f * B when metric in dualcam's pixels (what f_number needs), else None")
      .def_readonly("focus", &DepthPhotoPy::focus, "GFocus as a dict, or None");
  m.def("read_depth_photo", &read_depth_photo_py, "path"_a, "max_pixels"_a = ImageReadOptions{}.max_pixels,
        R"(Reads a depth photo (a JPEG with GDepth, or Dynamic Depth 1.0) as `dualcam bokeh --image photo.jpg`
takes it: the image and its disparity, ready for bokeh(). `dualcam fuse/bokeh --embed-depth` write them.
Raises InvalidInputError for a JPEG without depth, FileError for a file that cannot be read.)");

  // ---- simulate / sample ----
  py::class_<SimulationPy>(m, "Simulation", "A simulated pair with its truth (what simulate() returns).")
      .def_readonly("rig", &SimulationPy::rig)
      .def_readonly("mono", &SimulationPy::mono, "uint8 HxW, what the mono camera writes")
      .def_readonly("color", &SimulationPy::color, "uint8 HxWx3 BGR, what the colour camera writes")
      .def_readonly("clean_color_at_color", &SimulationPy::clean_color_at_color, "float32 linear BGR: the truth at the colour view")
      .def_readonly("clean_color_at_mono", &SimulationPy::clean_color_at_mono, "float32 linear BGR: the truth at the mono view")
      .def_readonly("depth_mono", &SimulationPy::depth_mono, "float32 mm, NaN = nothing seen")
      .def_readonly("depth_color", &SimulationPy::depth_color)
      .def_readonly("disparity_mono", &SimulationPy::disparity_mono, "float32 px of the mono image, NaN = none")
      .def_readonly("disparity_color", &SimulationPy::disparity_color, "float32 px of the colour image, NaN = none")
      .def_readonly("bokeh", &SimulationPy::bokeh, "the thin-lens bokeh truth (with focus_depth_mm), else None")
      .def_readonly("near_mm", &SimulationPy::near_mm)
      .def_readonly("far_mm", &SimulationPy::far_mm);
  m.def("simulate", &simulate, py::kw_only(), "threads"_a = 0,
        R"(Renders a colour + mono pair of a procedural scene with exact truth (`dualcam simulate`).

The keyword arguments are the simulator recipe's keys (docs/regress.md, the same JSON object a
regress manifest's inputs.simulate holds), e.g. size=(640, 480), seed=3, scene='layered',
sensor='realistic', light=0.05, rotation_deg=(0, 1, 0), color_position_mm=(12, 0, 0),
mono_distortion=(-0.1, 0.02). Unknown keys and values out of range raise InvalidInputError.)");
  py::class_<BoardViewsPy>(m, "BoardViews", "Simulated board views of a random module (what simulate_board_views() returns).")
      .def_readonly("rig", &BoardViewsPy::rig, "the true rig")
      .def_readonly("mono", &BoardViewsPy::mono, "list of uint8 HxW images")
      .def_readonly("color", &BoardViewsPy::color, "list of uint8 HxWx3 BGR images");
  m.def("simulate_board_views", &simulate_board_views, py::kw_only(), "board"_a = "chessboard:9x6:25mm",
        "seed"_a = 3, "views"_a = datasets::BoardSetOptions{}.views, "mono_size"_a = py::make_tuple(960, 720),
        "color_size"_a = py::make_tuple(720, 540), "outside_share"_a = datasets::BoardSetOptions{}.outside_share,
        "noise"_a = true, "threads"_a = 0,
        R"(Board views through a random phone-like rig, with blur and sensor noise (the calibration
protocols' simulator; a regress case's inputs.board_sim). Deterministic for a seed.)");
  py::class_<SamplePy>(m, "Sample", "The embedded synthetic sample (what sample() returns).")
      .def_readonly("rig", &SamplePy::rig)
      .def_readonly("mono", &SamplePy::mono)
      .def_readonly("color", &SamplePy::color)
      .def_readonly("truth_color_at_color", &SamplePy::truth_color_at_color)
      .def_readonly("truth_color_at_mono", &SamplePy::truth_color_at_mono)
      .def_readonly("disparity_mono", &SamplePy::disparity_mono)
      .def_readonly("disparity_color", &SamplePy::disparity_color);
  m.def("sample", &sample, py::kw_only(), "seed"_a = datasets::SampleOptions{}.seed,
        "light"_a = datasets::SampleOptions{}.light, "threads"_a = 0,
        "The embedded sample pair, its rig and its truth (`dualcam sample`).");

  // ---- metrics ----
  py::class_<ImageComparison>(m, "ImageComparison", "compare()'s figures.")
      .def_readonly("psnr_db", &ImageComparison::psnr_db, "8-bit PSNR (inf when identical)")
      .def_readonly("ssim", &ImageComparison::ssim)
      .def_readonly("max_abs_diff", &ImageComparison::max_abs_diff, "largest per-channel difference, 8-bit levels")
      .def_readonly("differing_share", &ImageComparison::differing_share);
  m.def(
      "compare",
      [](const py::object& image, const py::object& reference) {
        const TakenArray a = take_array(image, "image", ArrayKind::Image);
        const TakenArray b = take_array(reference, "reference", ArrayKind::Image);
        py::gil_scoped_release release;
        return compare_images(a.mat, b.mat);
      },
      "image"_a, "reference"_a,
      "An image against a reference (`dualcam compare`): PSNR, SSIM, largest difference, share differing.");
  py::class_<DisparityErrors>(m, "DisparityErrors", "compare_disparity()'s figures.")
      .def_readonly("bad1", &DisparityErrors::bad1, "share unknown or off by > 1 px")
      .def_readonly("bad2", &DisparityErrors::bad2, "share unknown or off by > 2 px")
      .def_readonly("mae_px", &DisparityErrors::mae_px)
      .def_readonly("evaluated", &DisparityErrors::evaluated);
  m.def(
      "compare_disparity",
      [](const py::object& estimate, const py::object& truth) {
        const TakenArray a = take_array(estimate, "estimate", ArrayKind::Disparity);
        const TakenArray b = take_array(truth, "truth", ArrayKind::Disparity);
        if (a.mat.size() != b.mat.size()) throw_invalid("estimate and truth differ in size");
        py::gil_scoped_release release;
        return disparity_errors(a.mat, b.mat);
      },
      "estimate"_a, "truth"_a, "A disparity against the truth (NaN or <= 0 = unknown): bad-1, bad-2, MAE.");

  // ---- evaluation protocols (the cheap ones) ----
  m.def(
      "eval_real",
      [](const std::string& data, int threads) {
        eval::RealEvalOptions r;
        r.data = data;
        r.validate();
        return to_python(run_released(threads, nullptr, [&] { return eval::run_real_eval(r, nullptr); }));
      },
      "data"_a, py::kw_only(), "threads"_a = 0,
      "The real-captures protocol (`dualcam eval --protocol real`) on a folder of pair folders: a dict.");
  m.def(
      "eval_bokeh",
      [](int scenes, const py::object& size, int threads) {
        eval::BokehEvalOptions o;
        o.scenes = scenes;
        o.size = to_size(size, "size");
        o.validate();
        return to_python(run_released(threads, nullptr, [&] { return eval::run_bokeh_eval(o, nullptr); }));
      },
      py::kw_only(), "scenes"_a = eval::BokehEvalOptions{}.scenes, "size"_a = py::make_tuple(640, 480), "threads"_a = 0,
      "The bokeh protocol (`dualcam eval --protocol bokeh`) on simulator scenes: a dict.");
}
