"""The person-detector interface."""
from __future__ import annotations

import abc

import numpy as np

from ..types import Detections

# Person boxes scoring below this are discarded (the one default: PipelineConfig and every detector).
DEFAULT_SCORE_THRESHOLD = 0.25


class PersonDetector(abc.ABC):
    """Finds people: image (H x W x 3 uint8 BGR) -> Detections (xyxy pixels, scores)."""

    name = 'detector'
    device = 'cpu'

    @abc.abstractmethod
    def detect(self, image_bgr: np.ndarray) -> Detections:
        ...

    def warmup(self, image_hw=(480, 640)) -> None:
        self.detect(np.zeros((*image_hw, 3), np.uint8))


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box of ``a (M, 4)`` with every box of ``b (N, 4)`` (xyxy) -> ``(M, N)`` float64;
    0 for no overlap or no area. (The same arithmetic as the tracker's iou_matrix, kept here so the
    detectors do not import the tracking package.)"""
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
