"""The appearance-embedder interface: one L2-normalised feature per person box."""

from __future__ import annotations

import abc
from typing import Optional

import numpy as np


def l2_normalize(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def clip_boxes_int(boxes: np.ndarray, width: int, height: int) -> np.ndarray:
    """Boxes ``(N, 4)`` -> integer pixel boxes inside the image, at least 1 pixel wide and high."""
    b = np.nan_to_num(np.asarray(boxes, np.float64).reshape(-1, 4))
    x1 = np.clip(np.floor(b[:, 0]), 0, width - 1)
    y1 = np.clip(np.floor(b[:, 1]), 0, height - 1)
    x2 = np.clip(np.ceil(b[:, 2]), x1 + 1, width)
    y2 = np.clip(np.ceil(b[:, 3]), y1 + 1, height)
    return np.stack([x1, y1, x2, y2], 1).astype(np.int64)


class Embedder(abc.ABC):
    """Appearance features for tracking.

    ``embed`` returns ``(N, dim)`` float32, each row unit length.
    """

    name = 'embedder'
    dim = 0

    @abc.abstractmethod
    def embed(
        self,
        image_bgr: np.ndarray,
        boxes: np.ndarray,
        keypoints: Optional[np.ndarray] = None,
        keypoint_scores: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        """Return one feature per box.

        ``image_bgr``: H x W x 3 uint8; ``boxes`` (N, 4) xyxy pixels; optional poses
        ``keypoints`` (N, 17, 2) / ``keypoint_scores`` (N, 17).
        """
