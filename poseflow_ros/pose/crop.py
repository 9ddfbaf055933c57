"""Top-down crop geometry shared by every pose backend.

A person box becomes a centre + size with the model's aspect ratio and a padding factor (MMPose's
``bbox_xyxy2cs`` + ``fix_aspect_ratio`` convention); an affine 2x3 matrix maps image pixels into
the model input and its inverse maps keypoints back. Rotated square crops (BlazePose's alignment
ROIs) are ``[cx, cy, side, rotation]`` rows turned into the same 2x3 matrices by
:func:`roi_matrices`; every warp (OpenCV or :class:`DeviceWarper`) takes any 2x3 matrix.
"""

from __future__ import annotations

from typing import Tuple

import cv2
import numpy as np


def box_to_center_scale(
    boxes: np.ndarray, aspect_ratio: float, padding: float = 1.25
) -> Tuple[np.ndarray, np.ndarray]:
    """Boxes (N,4) xyxy -> centres (N,2), sizes (N,2) (w, h) with w/h == aspect_ratio, padded."""
    boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
    centers = np.stack([(boxes[:, 0] + boxes[:, 2]) * 0.5, (boxes[:, 1] + boxes[:, 3]) * 0.5], 1)
    w = np.maximum(boxes[:, 2] - boxes[:, 0], 1.0) * padding
    h = np.maximum(boxes[:, 3] - boxes[:, 1], 1.0) * padding
    wider = w > h * aspect_ratio
    h = np.where(wider, w / aspect_ratio, h)
    w = np.where(wider, w, h * aspect_ratio)
    return centers.astype(np.float32), np.stack([w, h], 1).astype(np.float32)


def affine_matrices(centers: np.ndarray, sizes: np.ndarray, out_wh: Tuple[int, int]) -> np.ndarray:
    """(N,2,3) matrices mapping image pixels to the crop of size out_wh (no rotation).

    The crop's pixel centres follow OpenCV's warpAffine convention: image point
    ``centre`` lands on ``(out_w/2, out_h/2)`` and the box size spans the full output.
    """
    out_w, out_h = out_wh
    sx = out_w / sizes[:, 0]
    sy = out_h / sizes[:, 1]
    m = np.zeros((len(centers), 2, 3), np.float64)
    m[:, 0, 0] = sx
    m[:, 1, 1] = sy
    m[:, 0, 2] = out_w * 0.5 - centers[:, 0] * sx
    m[:, 1, 2] = out_h * 0.5 - centers[:, 1] * sy
    return m


def boxes_to_rois(boxes: np.ndarray, padding: float = 1.25) -> np.ndarray:
    """Boxes (N,4) xyxy -> square upright ROIs (N,4) ``[cx, cy, side, rotation=0]``.

    Side = padding x the longer box side (the same square as
    ``box_to_center_scale(boxes, 1.0, padding)``).
    """
    c, s = box_to_center_scale(boxes, 1.0, padding)
    return np.concatenate([c, s[:, :1], np.zeros((len(c), 1), np.float32)], 1).astype(np.float32)


def rotation_matrices(theta: np.ndarray) -> np.ndarray:
    """(N,) radians -> (N,2,2) ``[[cos, -sin], [sin, cos]]``.

    With image y pointing down, a positive angle turns clockwise on screen; a ROI of rotation
    ``theta`` has its crop "up" along ``(sin theta, -cos theta)`` in the image.
    """
    t = np.asarray(theta, np.float64).reshape(-1)
    c, s = np.cos(t), np.sin(t)
    return np.stack([np.stack([c, -s], -1), np.stack([s, c], -1)], -2)


def roi_matrices(rois: np.ndarray, out_wh: Tuple[int, int]) -> np.ndarray:
    """(N,2,3) matrices mapping image pixels into rotated square crops.

    ``rois`` (N,>=4) ``[cx, cy, side, rotation]`` (pixels, radians): the image point ``(cx, cy)``
    lands on the crop centre, ``side`` spans the crop, and the crop is turned by ``rotation`` (a
    crop point at offset ``(u, v)`` from the centre, in image pixels, is the image point
    ``c + R(rotation) (u, v)``). Rotation 0 gives exactly :func:`affine_matrices` of the same
    square.
    """
    rois = np.asarray(rois, np.float64)
    rois = rois.reshape(-1, rois.shape[-1])
    out_w, out_h = out_wh
    r = rotation_matrices(rois[:, 3])
    scale = np.stack([out_w / rois[:, 2], out_h / rois[:, 2]], 1)  # (N,2)
    a = r.transpose(0, 2, 1) * scale[:, :, None]  # diag(scale) R^T
    t = np.array([out_w * 0.5, out_h * 0.5]) - np.einsum('nij,nj->ni', a, rois[:, :2])
    return np.concatenate([a, t[:, :, None]], 2)


def rotate_points(points: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """Rotate the x, y of (N,K,>=2) vectors by ``R(theta)`` (N,), other coordinates kept.

    Crop-aligned vectors (e.g. world landmarks) -> image-aligned ones.
    """
    pts = np.array(points, np.float64, copy=True)
    r = rotation_matrices(theta)
    pts[..., :2] = np.einsum('nij,nkj->nki', r, pts[..., :2])
    return pts.astype(np.float32)


def invert_affine(m: np.ndarray) -> np.ndarray:
    """Invert (N,2,3) affine matrices."""
    m = np.asarray(m, np.float64)
    a = m[:, :, :2]
    t = m[:, :, 2:]
    ainv = np.linalg.inv(a)
    return np.concatenate([ainv, -ainv @ t], axis=2)


def transform_points(points: np.ndarray, m: np.ndarray) -> np.ndarray:
    """Apply (N,2,3) matrices to (N,K,2) points."""
    pts = np.asarray(points, np.float64)
    out = pts @ m[:, :, :2].transpose(0, 2, 1) + m[:, None, :, 2]
    return out.astype(np.float32)


BORDERS = ('zero', 'replicate')


def warp_crops(
    image: np.ndarray,
    m: np.ndarray,
    out_wh: Tuple[int, int],
    border_value=(0, 0, 0),
    border: str = 'zero',
) -> np.ndarray:
    """Warp each crop: returns (N, out_h, out_w, C) uint8 (same channel order as image).

    ``border``: what the crop shows outside the image, 'zero' (``border_value``) or 'replicate'
    (the nearest edge pixel, as MediaPipe's ImageToTensorCalculator does by default).
    """
    out_w, out_h = out_wh
    mode = _border_mode(border)
    crops = np.empty((len(m), out_h, out_w, image.shape[2]), image.dtype)
    for i in range(len(m)):
        crops[i] = cv2.warpAffine(
            image,
            m[i],
            (out_w, out_h),
            flags=cv2.INTER_LINEAR,
            borderMode=mode,
            borderValue=border_value,
        )
    return crops


def _border_mode(border: str) -> int:
    if border not in BORDERS:
        raise ValueError(f'crop border must be one of {BORDERS}, got {border!r}')
    return cv2.BORDER_REPLICATE if border == 'replicate' else cv2.BORDER_CONSTANT


class DeviceWarper:
    """The same crops as :func:`warp_crops`, sampled on the model's device with ``grid_sample``.

    On CUDA the frame goes up once per frame through a pinned host buffer that is reused while the
    frame size stays the same, and all crops of the frame are sampled in one call, so no crop ever
    exists on the host. Bilinear sampling with a zero border, pixel centres as in OpenCV's
    ``warpAffine`` (OpenCV rounds coordinates to 1/32 px, hence differences of a few grey levels).
    """

    def __init__(self, device: str = 'cpu'):
        import torch

        self.torch = torch
        self.device = torch.device(device)
        self._pinned = None
        self._grids = {}  # out_wh -> (P, 3) homogeneous output pixel coordinates

    def upload(self, image: np.ndarray):
        """H x W x C uint8 numpy -> tensor on the device (via a reused pinned buffer on CUDA)."""
        torch = self.torch
        src = torch.from_numpy(np.ascontiguousarray(image))
        if self.device.type != 'cuda':
            return src
        if self._pinned is None or self._pinned.shape != src.shape:
            self._pinned = torch.empty(src.shape, dtype=torch.uint8).pin_memory()
        self._pinned.copy_(src)
        return self._pinned.to(self.device, non_blocking=True)

    def _base_grid(self, out_wh):
        g = self._grids.get(out_wh)
        if g is None:
            torch = self.torch
            out_w, out_h = out_wh
            ys, xs = torch.meshgrid(
                torch.arange(out_h, dtype=torch.float32),
                torch.arange(out_w, dtype=torch.float32),
                indexing='ij',
            )
            g = torch.stack([xs, ys, torch.ones_like(xs)], -1).reshape(-1, 3).to(self.device)
            self._grids[out_wh] = g
        return g

    def warp(
        self,
        image: np.ndarray,
        m: np.ndarray,
        out_wh: Tuple[int, int],
        dtype=None,
        border: str = 'zero',
    ):
        """(N,2,3) image->crop matrices -> (N, C, out_h, out_w) crops on the device.

        Values 0..255 (float32, or ``dtype``), channels in the image's order; ``border`` as in
        :func:`warp_crops`.
        """
        _border_mode(border)
        torch = self.torch
        import torch.nn.functional as F

        img = self.upload(image)
        h, w = img.shape[:2]
        out_w, out_h = out_wh
        n = len(m)
        minv = torch.as_tensor(invert_affine(m), dtype=torch.float32).to(
            self.device, non_blocking=True
        )
        src = torch.einsum('nij,pj->npi', minv, self._base_grid(out_wh))  # (N, P, 2) image px
        scale = torch.tensor([2.0 / w, 2.0 / h], device=self.device)
        grid = ((src + 0.5) * scale - 1.0).reshape(n, out_h, out_w, 2)
        x = img.permute(2, 0, 1).unsqueeze(0).to(dtype or torch.float32).expand(n, -1, -1, -1)
        pad = 'border' if border == 'replicate' else 'zeros'  # 'border' clamps = replicate
        return F.grid_sample(
            x, grid.to(x.dtype), mode='bilinear', padding_mode=pad, align_corners=False
        )
