# Type stubs of the dualcam module (python/src/module.cpp); python/tests/test_module.py checks
# that they name every public function and class of the module, and only those.
import os
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str

ImageArray = npt.NDArray[Union[np.uint8, np.uint16]]
FloatArray = npt.NDArray[np.float32]
PathLike = Union[str, "os.PathLike[str]"]
RigLike = Union["Rig", PathLike, None]

class Error(Exception): ...
class InvalidInputError(Error, ValueError): ...
class FileError(Error, OSError): ...
class CalibrationError(Error, RuntimeError): ...
class NumericalError(Error, RuntimeError): ...

class Camera:
    K: npt.NDArray[np.float64]
    dist: npt.NDArray[np.float64]
    size: Tuple[int, int]
    def __init__(self) -> None: ...

class Rig:
    mono: Camera
    color: Camera
    R: npt.NDArray[np.float64]
    T: npt.NDArray[np.float64]
    extras: Dict[str, float]
    def __init__(self) -> None: ...
    @staticmethod
    def read(path: str) -> Rig: ...
    @staticmethod
    def from_yaml(text: str) -> Rig: ...
    def write(self, path: str) -> None: ...
    def to_yaml(self) -> str: ...
    def validate(self) -> None: ...
    @property
    def baseline(self) -> float: ...

def imread(path: str, max_pixels: int = ...) -> ImageArray: ...
def imwrite(path: str, image: ImageArray) -> None: ...
def read_pfm(path: str) -> FloatArray: ...
def write_pfm(path: str, disparity: FloatArray) -> None: ...
def array_layout(array: Any, kind: str = "image") -> Dict[str, Any]: ...

class FuseResult:
    image: ImageArray
    linear: FloatArray
    disparity: FloatArray
    confidence: FloatArray
    weight: FloatArray
    stats: Dict[str, Any]
    seconds: float

class DepthResult:
    disparity: FloatArray
    confidence: FloatArray
    stats: Dict[str, Any]
    seconds: float

def fuse(mono: ImageArray, color: ImageArray, rig: RigLike = None, *, rectified: bool = False,
         reference: str = "color", matcher: str = "census", max_disparity: int = 0,
         threads: int = 0) -> FuseResult: ...
def depth(mono: ImageArray, color: ImageArray, rig: RigLike = None, *, rectified: bool = False,
          reference: str = "color", matcher: str = "census", max_disparity: int = 0,
          threads: int = 0) -> DepthResult: ...

class BokehResult:
    image: ImageArray
    linear: FloatArray
    sharp: FloatArray
    disparity: FloatArray
    focus_disparity_px: float
    blur_per_disparity: float
    max_radius_px: float
    layers: int
    reduced_layers: int
    aperture: str
    fuse_stats: Optional[Dict[str, Any]]
    seconds: float

def bokeh(image: ImageArray, disparity: FloatArray, *, focus: Optional[Tuple[int, int]] = None,
          focus_disparity: Optional[float] = None, max_blur: Optional[float] = None,
          f_number: Optional[float] = None, rig: RigLike = None, reference: str = "color",
          aperture: str = "circle", highlights: float = 1.0, focus_window: int = 7,
          pixel_pitch_um: float = 1.0, refine_disparity: int = 0, threads: int = 0) -> BokehResult: ...
def bokeh_from_pair(mono: ImageArray, color: ImageArray, rig: RigLike, *,
                    focus: Optional[Tuple[int, int]] = None, focus_disparity: Optional[float] = None,
                    max_blur: Optional[float] = None, f_number: Optional[float] = None,
                    reference: str = "color", aperture: str = "circle", highlights: float = 1.0,
                    focus_window: int = 7, pixel_pitch_um: float = 1.0, refine_disparity: int = 7,
                    threads: int = 0) -> BokehResult: ...

class CalibrationResult:
    @property
    def rig(self) -> Rig: ...
    @property
    def rms_px(self) -> float: ...
    @property
    def rms_mono_px(self) -> float: ...
    @property
    def rms_color_px(self) -> float: ...
    @property
    def row_error_px(self) -> float: ...
    @property
    def views_used(self) -> int: ...
    @property
    def views_total(self) -> int: ...
    @property
    def rotation_sigma_deg(self) -> float: ...
    @property
    def baseline_sigma_mm(self) -> float: ...
    @property
    def extrinsics_covariance(self) -> npt.NDArray[np.float64]: ...
    passed: bool
    failed: List[str]
    unusable: List[str]
    report: Dict[str, Any]
    seconds: float
    def write_rig(self, path: str) -> None: ...

def calibrate(mono: Union[PathLike, Sequence[PathLike], Sequence[ImageArray]],
              color: Union[PathLike, Sequence[PathLike], Sequence[ImageArray]], *, board: str,
              max_rms: float = 0.0, max_row_error: float = 0.0, fix: Sequence[str] = ...,
              min_views: int = 4, halves: bool = True, drop_outlier_views: bool = False,
              threads: int = 0) -> CalibrationResult: ...

class Simulation:
    rig: Rig
    mono: ImageArray
    color: ImageArray
    clean_color_at_color: FloatArray
    clean_color_at_mono: FloatArray
    depth_mono: FloatArray
    depth_color: FloatArray
    disparity_mono: FloatArray
    disparity_color: FloatArray
    bokeh: Optional[FloatArray]
    near_mm: float
    far_mm: float

def simulate(*, threads: int = 0, **recipe: Any) -> Simulation: ...

class BoardViews:
    rig: Rig
    mono: List[ImageArray]
    color: List[ImageArray]

def simulate_board_views(*, board: str = "chessboard:9x6:25mm", seed: int = 3, views: int = 20,
                         mono_size: Tuple[int, int] = (960, 720), color_size: Tuple[int, int] = (720, 540),
                         outside_share: float = 0.15, noise: bool = True, threads: int = 0) -> BoardViews: ...

class DepthPhoto:
    image: ImageArray
    disparity: FloatArray
    all_in_focus: bool
    container: str
    format: str
    near: float
    far: float
    metric: bool
    disparity_scale: Optional[float]
    focus: Optional[Dict[str, Any]]

def read_depth_photo(path: str, max_pixels: int = ...) -> DepthPhoto: ...

class Sample:
    rig: Rig
    mono: ImageArray
    color: ImageArray
    truth_color_at_color: ImageArray
    truth_color_at_mono: ImageArray
    disparity_mono: FloatArray
    disparity_color: FloatArray

def sample(*, seed: int = 7, light: float = 0.1, threads: int = 0) -> Sample: ...

class ImageComparison:
    psnr_db: float
    ssim: float
    max_abs_diff: int
    differing_share: float

class DisparityErrors:
    bad1: float
    bad2: float
    mae_px: float
    evaluated: int

def compare(image: ImageArray, reference: ImageArray) -> ImageComparison: ...
def compare_disparity(estimate: FloatArray, truth: FloatArray) -> DisparityErrors: ...
def eval_real(data: str, *, threads: int = 0) -> Dict[str, Any]: ...
def eval_bokeh(*, scenes: int = 4, size: Tuple[int, int] = (640, 480), threads: int = 0) -> Dict[str, Any]: ...
