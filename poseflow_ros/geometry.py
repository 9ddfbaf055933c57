"""Box geometry shared by every stage (detection, pose crops, tracking, evaluation). No ROS types.

Box layouts, all ``(N, 4)`` in image pixels:

- ``xyxy``: corners ``x1, y1, x2, y2`` (the core's layout, :mod:`poseflow_ros.types`);
- ``xywh``: top-left corner and size ``x, y, w, h`` (MOTChallenge files, COCO annotations; also
  called tlwh / ltwh by other trackers);
- ``xyah``: centre, aspect ratio ``w / h`` and height ``cx, cy, a, h`` (the tracker's Kalman state,
  as in DeepSORT; cxcyah elsewhere).

The converters return float64 arrays and accept anything ``numpy.asarray`` takes (a single box
``(4,)`` as well).
"""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every xyxy box of ``a (M, 4)`` with every box of ``b (N, 4)`` -> ``(M, N)`` float64.

    0 for no overlap.
    """
    a = np.asarray(a, np.float64).reshape(-1, 4)
    b = np.asarray(b, np.float64).reshape(-1, 4)
    wh = np.minimum(a[:, None, 2:], b[None, :, 2:])
    wh -= np.maximum(a[:, None, :2], b[None, :, :2])
    np.maximum(wh, 0.0, out=wh)
    inter = wh[..., 0] * wh[..., 1]
    sa = a[:, 2:] - a[:, :2]
    sb = b[:, 2:] - b[:, :2]
    union = (sa[:, 0] * sa[:, 1])[:, None] + (sb[:, 0] * sb[:, 1])[None, :] - inter
    return inter / np.maximum(union, 1e-9)


def iou_matrix_xywh(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """:func:`iou_matrix` of boxes given as ``x, y, w, h`` (MOTChallenge convention, no +1)."""
    return iou_matrix(xywh_to_xyxy(a), xywh_to_xyxy(b))


def xywh_to_xyxy(xywh: np.ndarray) -> np.ndarray:
    """``(N, 4)`` top-left x, y, width, height -> x1 y1 x2 y2."""
    b = np.asarray(xywh, np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, :2] + b[:, 2:]], 1)


def xyxy_to_xywh(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x1 y1 x2 y2 -> top-left x, y, width, height."""
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    return np.concatenate([b[:, :2], b[:, 2:] - b[:, :2]], 1)


def xyxy_to_xyah(boxes: np.ndarray) -> np.ndarray:
    """``(N, 4)`` x1 y1 x2 y2 -> centre x, centre y, aspect w / h, height.

    The height is clamped to 1e-6 so that empty boxes give a finite aspect.
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    out = np.empty_like(b)
    wh = b[:, 2:] - b[:, :2]
    out[:, :2] = b[:, :2] + 0.5 * wh
    out[:, 3] = np.maximum(wh[:, 1], 1e-6)
    out[:, 2] = wh[:, 0] / out[:, 3]
    return out


def xyah_to_xyxy(xyah: np.ndarray) -> np.ndarray:
    """``(N, 4)`` centre x, centre y, aspect w / h, height -> x1 y1 x2 y2."""
    m = np.asarray(xyah, np.float64).reshape(-1, 4)
    half = np.empty((len(m), 2))
    half[:, 1] = 0.5 * m[:, 3]
    half[:, 0] = m[:, 2] * half[:, 1]
    return np.concatenate([m[:, :2] - half, m[:, :2] + half], axis=1)


def outside_fraction(boxes: np.ndarray, width: float, height: float) -> np.ndarray:
    """Fraction of each xyxy box's area that lies outside the image ``[0, width] x [0, height]``.

    ``(N, 4)`` -> ``(N,)`` in ``[0, 1]`` (1 for empty boxes).
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    area = np.maximum(b[:, 2] - b[:, 0], 0.0) * np.maximum(b[:, 3] - b[:, 1], 0.0)
    iw = np.maximum(np.minimum(b[:, 2], width) - np.maximum(b[:, 0], 0.0), 0.0)
    ih = np.maximum(np.minimum(b[:, 3], height) - np.maximum(b[:, 1], 0.0), 0.0)
    inside = np.where(area > 0, iw * ih / np.maximum(area, 1e-12), 0.0)
    return 1.0 - inside
