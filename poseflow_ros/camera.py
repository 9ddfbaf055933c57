"""Pinhole camera with lens distortion (the contents of a sensor_msgs/CameraInfo), ROS-free.

    cam = CameraModel.from_k([525, 0, 319.5, 0, 525, 239.5, 0, 0, 1], [0] * 5, 640, 480)
    xn = cam.undistort(px)   # (N,2) pixels -> normalised image coordinates (x/z, y/z)
    px = cam.project(xyz)    # (N,3) optical-frame metres -> (N,2) pixels, distortion applied

Coordinates are the ROS optical frame of the image: x right, y down, z forward (REP 103/104).
Distortion models: ``plumb_bob`` and ``rational_polynomial`` (OpenCV's k1 k2 p1 p2 k3 [k4 k5 k6])
and ``equidistant`` (OpenCV fisheye k1..k4).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import cv2
import numpy as np

DISTORTION_MODELS = ('plumb_bob', 'rational_polynomial', 'equidistant')
# iterative undistortion: OpenCV's default 5 iterations leave up to 0.65 px near the edges of the
# HSR head camera (k3 = -0.49); 50 iterations converge to 1e-8 px
_UNDISTORT_CRITERIA = (cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-9)


@dataclass
class CameraModel:
    """Intrinsics K (3x3), distortion D and the image size they belong to."""

    K: np.ndarray
    D: np.ndarray = field(default_factory=lambda: np.zeros(5))
    width: int = 0
    height: int = 0
    distortion_model: str = 'plumb_bob'

    def __post_init__(self):
        self.K = np.asarray(self.K, np.float64).reshape(3, 3)
        self.D = np.asarray(self.D if self.D is not None else [], np.float64).reshape(-1)
        self.width, self.height = int(self.width), int(self.height)
        self.distortion_model = self.distortion_model or 'plumb_bob'

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_k(
        cls,
        k: Sequence[float],
        d: Sequence[float] = (),
        width: int = 0,
        height: int = 0,
        distortion_model: str = 'plumb_bob',
    ) -> CameraModel:
        """From CameraInfo-style fields.

        k = 9 numbers row-major, d = the distortion coefficients.
        """
        return cls(
            np.asarray(k, np.float64).reshape(3, 3),
            np.asarray(d, np.float64),
            width,
            height,
            distortion_model,
        )

    @classmethod
    def from_dict(cls, d: dict) -> CameraModel:
        """From a dict (intrinsics.yaml style).

        Either ``K``/``k`` (9 numbers or 3x3) or ``fx fy cx cy``, plus optional
        ``D``/``d``/``distortion``, ``width``, ``height``, ``distortion_model``.
        """
        k = d.get('K', d.get('k'))
        if k is None:
            k = [[d['fx'], 0.0, d['cx']], [0.0, d['fy'], d['cy']], [0.0, 0.0, 1.0]]
        dist = d.get('D', d.get('d', d.get('distortion', ())))
        return cls(
            np.asarray(k, np.float64),
            np.asarray(dist if dist is not None else (), np.float64),
            int(d.get('width', 0)),
            int(d.get('height', 0)),
            d.get('distortion_model', 'plumb_bob'),
        )

    # ------------------------------------------------------------------ properties
    @property
    def fx(self) -> float:
        return float(self.K[0, 0])

    @property
    def fy(self) -> float:
        return float(self.K[1, 1])

    @property
    def cx(self) -> float:
        return float(self.K[0, 2])

    @property
    def cy(self) -> float:
        return float(self.K[1, 2])

    @property
    def has_distortion(self) -> bool:
        return bool(self.D.size and np.any(self.D != 0.0))

    def valid(self) -> bool:
        """fx, fy > 0, K and D finite and a positive image size."""
        return bool(
            np.all(np.isfinite(self.K))
            and self.fx > 0
            and self.fy > 0
            and np.all(np.isfinite(self.D))
            and self.width > 0
            and self.height > 0
        )

    def problem(self) -> str | None:
        """Why this camera cannot be used (a sentence), or None when it is valid."""
        if not np.all(np.isfinite(self.K)) or self.fx <= 0 or self.fy <= 0:
            return (
                f'camera intrinsics unusable (fx={self.fx:g}, fy={self.fy:g}; K must have fx, '
                'fy > 0)'
            )
        if not np.all(np.isfinite(self.D)):
            return 'camera distortion coefficients are not finite'
        if self.width <= 0 or self.height <= 0:
            return f'camera image size {self.width}x{self.height} is not positive'
        if self.distortion_model not in DISTORTION_MODELS and self.has_distortion:
            return (
                f'distortion model {self.distortion_model!r} is not supported '
                f'(one of {", ".join(DISTORTION_MODELS)})'
            )
        return None

    # ------------------------------------------------------------------ geometry
    def scaled_to(self, width: int, height: int) -> CameraModel:
        """Return the same camera for an image resized to ``width x height``.

        K's rows are scaled; D is unchanged (it acts on normalised coordinates).
        """
        if (width, height) == (self.width, self.height):
            return self
        sx, sy = width / float(self.width), height / float(self.height)
        k = self.K.copy()
        k[0] *= sx
        k[1] *= sy
        k[2] = (0.0, 0.0, 1.0)
        return CameraModel(k, self.D.copy(), int(width), int(height), self.distortion_model)

    def _fisheye(self) -> bool:
        return self.distortion_model == 'equidistant' and self.has_distortion

    def undistort(self, px) -> np.ndarray:
        """Pixels (N,2) -> normalised image coordinates (N,2) (x/z, y/z), distortion removed."""
        p = np.asarray(px, np.float64).reshape(-1, 2)
        if len(p) == 0:
            return np.zeros((0, 2))
        if not self.has_distortion:
            y = (p[:, 1] - self.cy) / self.fy
            x = (p[:, 0] - self.cx - self.K[0, 1] * y) / self.fx
            return np.stack([x, y], 1)
        out = np.full_like(p, np.nan)
        ok = np.all(np.isfinite(p), 1)
        if ok.any():
            src = p[ok].reshape(-1, 1, 2)
            if self._fisheye():
                dst = cv2.fisheye.undistortPoints(
                    src, self.K, self.D[:4].reshape(4, 1), criteria=_UNDISTORT_CRITERIA
                )
            else:
                dst = cv2.undistortPointsIter(src, self.K, self.D, None, None, _UNDISTORT_CRITERIA)
            out[ok] = dst.reshape(-1, 2)
        return out

    def project(self, xyz) -> np.ndarray:
        """Optical-frame points (N,3) -> pixels (N,2) with distortion.

        NaN for points not in front (z <= 0).
        """
        q = np.asarray(xyz, np.float64).reshape(-1, 3)
        out = np.full((len(q), 2), np.nan)
        ok = np.all(np.isfinite(q), 1) & (q[:, 2] > 0)
        if not ok.any():
            return out
        if not self.has_distortion:
            xn = q[ok, :2] / q[ok, 2:3]
            out[ok, 0] = self.fx * xn[:, 0] + self.K[0, 1] * xn[:, 1] + self.cx
            out[ok, 1] = self.fy * xn[:, 1] + self.cy
            return out
        zero = np.zeros(3)
        if self._fisheye():
            px, _ = cv2.fisheye.projectPoints(
                q[ok].reshape(-1, 1, 3), zero, zero, self.K, self.D[:4].reshape(4, 1)
            )
        else:
            px, _ = cv2.projectPoints(q[ok].reshape(-1, 1, 3), zero, zero, self.K, self.D)
        out[ok] = px.reshape(-1, 2)
        return out

    def back_project(self, px, z) -> np.ndarray:
        """Pixels (N,2) and their depth z (N,) (metres along the optical axis) -> points (N,3)."""
        xn = self.undistort(px)
        z = np.asarray(z, np.float64).reshape(-1)
        return np.concatenate([xn * z[:, None], z[:, None]], 1)
