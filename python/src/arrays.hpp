#pragma once
// numpy arrays <-> cv::Mat for the Python module: the one place that decides what an array may be
// and whether it is read in place.
//
// In: images are uint8 or uint16, grey HxW (or HxWx1) or colour HxWx3 in OpenCV's BGR order, as
// cv2.imread gives them; disparities float32 HxW. A C-contiguous array (what cv2.imread,
// dualcam.imread and every fresh numpy array are) is wrapped without a copy; any other (a crop
// a[y0:y1, x0:x1], a column step a[:, ::2], channels reversed a[..., ::-1], a transposed view) is
// copied into a C-contiguous array first, because the engine's kernels walk images as one block. Anything else (another dtype, another shape, not an array at all) is
// dualcam.InvalidInputError naming the argument.
// Out: a cv::Mat the engine made is handed to numpy without a copy: the array keeps the Mat's
// buffer alive through a capsule.
#include <string>

#include <opencv2/core.hpp>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

namespace dualcam::python {

namespace py = pybind11;

enum class ArrayKind {
  Image,      // uint8 / uint16, HxW, HxWx1 or HxWx3
  Grey,       // uint8 / uint16, HxW or HxWx1
  Colour,     // uint8 / uint16, HxWx3
  Disparity,  // float32, HxW
};

// An argument taken as a cv::Mat. `array` keeps the memory alive while `mat` is used.
struct TakenArray {
  cv::Mat mat;
  py::array array;
  bool copied = false;
  std::string reason;  // why it was copied
};

// Throws dualcam::Error(InvalidInput) "NAME: ..." for an array that is not of `kind`.
TakenArray take_array(const py::handle& object, const std::string& name, ArrayKind kind);

// The Mat as a numpy array sharing its buffer (CV_8U, CV_16U, CV_32F, CV_64F; 1 channel -> HxW,
// C channels -> HxWxC). An empty Mat gives None.
py::object to_array(const cv::Mat& mat);

}  // namespace dualcam::python
