#include "arrays.hpp"

#include <memory>

#include "dualcam/engine/error.hpp"

namespace dualcam::python {

namespace {

const char* kind_text(ArrayKind kind) {
  switch (kind) {
    case ArrayKind::Image: return "a uint8 or uint16 image, HxW (grey) or HxWx3 (BGR)";
    case ArrayKind::Grey: return "a uint8 or uint16 grey image, HxW";
    case ArrayKind::Colour: return "a uint8 or uint16 BGR image, HxWx3";
    case ArrayKind::Disparity: return "a float32 disparity, HxW";
  }
  return "";
}

std::string shape_text(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) s += (i ? ", " : "") + std::to_string(a.shape(i));
  return s + (a.ndim() == 1 ? ",)" : ")");
}

// One block: channels, then columns, then rows adjacent in memory.
bool c_contiguous(const py::array& a, int channels) {
  const py::ssize_t item = a.itemsize();
  if (a.ndim() == 3 && a.strides(2) != item) return false;
  return a.strides(1) == item * channels && a.strides(0) == a.strides(1) * a.shape(1);
}

}  // namespace

TakenArray take_array(const py::handle& object, const std::string& name, ArrayKind kind) {
  if (object.is_none()) throw_invalid(name + ": expected " + kind_text(kind) + ", got None");
  TakenArray t;
  if (py::isinstance<py::array>(object)) {
    t.array = py::reinterpret_borrow<py::array>(object);
  } else {
    try {
      t.array = py::array::ensure(object);
    } catch (const py::error_already_set&) {
    }
    if (!t.array) throw_invalid(name + ": expected " + std::string(kind_text(kind)) + ", got a " +
                                std::string(py::str(py::type::of(object).attr("__name__"))));
  }
  const py::dtype dt = t.array.dtype();
  const bool is_u8 = dt.is(py::dtype::of<std::uint8_t>()), is_u16 = dt.is(py::dtype::of<std::uint16_t>());
  const bool is_f32 = dt.is(py::dtype::of<float>());
  const bool want_float = kind == ArrayKind::Disparity;
  if (want_float ? !is_f32 : !(is_u8 || is_u16))
    throw_invalid(name + ": dtype " + std::string(py::str(static_cast<const py::handle&>(dt))) + " is not supported; expected " + kind_text(kind));
  const py::ssize_t nd = t.array.ndim();
  const int channels = nd == 3 ? int(t.array.shape(2)) : 1;
  bool shape_ok = (nd == 2 || nd == 3) && t.array.shape(0) > 0 && t.array.shape(1) > 0;
  if (shape_ok) {
    switch (kind) {
      case ArrayKind::Image: shape_ok = channels == 1 || channels == 3; break;
      case ArrayKind::Grey: shape_ok = channels == 1; break;
      case ArrayKind::Colour: shape_ok = nd == 3 && channels == 3; break;
      case ArrayKind::Disparity: shape_ok = nd == 2 || channels == 1; break;
    }
  }
  if (!shape_ok) throw_invalid(name + ": shape " + shape_text(t.array) + " is not " + kind_text(kind));
  if (t.array.shape(0) > (1 << 16) || t.array.shape(1) > (1 << 16))
    throw_invalid(name + ": shape " + shape_text(t.array) + " is larger than 65536 pixels on a side");
  if (!c_contiguous(t.array, channels)) {
    t.copied = true;
    t.reason = "it is not C-contiguous (a crop, a[:, ::2], a[..., ::-1] or a.T)";
    t.array = py::module_::import("numpy").attr("ascontiguousarray")(t.array);
  }
  const int depth = is_u8 ? CV_8U : is_u16 ? CV_16U : CV_32F;
  t.mat = cv::Mat(int(t.array.shape(0)), int(t.array.shape(1)), CV_MAKETYPE(depth, channels),
                  const_cast<void*>(t.array.data()), std::size_t(t.array.strides(0)));
  return t;
}

py::object to_array(const cv::Mat& mat) {
  if (mat.empty()) return py::none();
  py::dtype dt;
  switch (mat.depth()) {
    case CV_8U: dt = py::dtype::of<std::uint8_t>(); break;
    case CV_16U: dt = py::dtype::of<std::uint16_t>(); break;
    case CV_32F: dt = py::dtype::of<float>(); break;
    case CV_64F: dt = py::dtype::of<double>(); break;
    default: throw std::runtime_error("to_array: unsupported cv::Mat depth " + std::to_string(mat.depth()));
  }
  auto* owner = new cv::Mat(mat);  // shares the buffer; freed with the array
  py::capsule keep(owner, [](void* p) { delete static_cast<cv::Mat*>(p); });
  const py::ssize_t elem = py::ssize_t(mat.elemSize1()), ch = mat.channels();
  std::vector<py::ssize_t> shape{mat.rows, mat.cols}, strides{py::ssize_t(mat.step[0]), elem * ch};
  if (ch > 1) {
    shape.push_back(ch);
    strides.push_back(elem);
  }
  return py::array(dt, shape, strides, owner->data, keep);
}

}  // namespace dualcam::python
