"""Box geometry shared by every stage (detection, pose crops, tracking, evaluation). No ROS types."""

from __future__ import annotations

import numpy as np


def iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a (M, 4)`` with every box of ``b (N, 4)`` (xyxy) -> ``(M, N)`` float64;
    0 for no overlap."""
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
