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

    def warmup(self, image_hw=(480, 640), max_persons: int = 1) -> None:
        """Run on a blank frame so the first real frames are not slow. With CUDA graphs (a backend's
        ``_run``), once per batch-size bucket up to the one holding ``max_persons``: every graph is then
        captured here, not when a frame first shows that many people."""
        img = np.zeros((*image_hw, 3), np.uint8)
        box = np.array([[10, 10, 110, 210]], np.float32)
        run = getattr(self, '_run', None)
        sizes = [1]
        if run is not None and run.enabled:
            top = run.bucket(max(1, int(max_persons))) or run.buckets[-1]
            sizes = [b for b in run.buckets if b <= top]
        for n in sizes:
            self.estimate(img, np.repeat(box, n, 0))
