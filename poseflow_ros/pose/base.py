"""The pose-estimator interface every backend implements."""
from __future__ import annotations

import abc

import numpy as np

from ..types import Poses


class PoseEstimator(abc.ABC):
    """Top-down pose: one forward over all person boxes of a frame (batched crops)."""

    name = 'pose'
    device = 'cpu'

    @abc.abstractmethod
    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> Poses:
        """image_bgr: H x W x 3 uint8; boxes: (N,4) xyxy pixels -> Poses with N entries (same order)."""

    def warmup(self, image_hw=(480, 640)) -> None:
        """Run once on a blank frame so the first real frame is not slow."""
        img = np.zeros((*image_hw, 3), np.uint8)
        self.estimate(img, np.array([[10, 10, 110, 210]], np.float32))
