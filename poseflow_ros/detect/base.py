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
    def detect(self, image_bgr: np.ndarray) -> Detections: ...

    def warmup(self, image_hw=(480, 640)) -> None:
        self.detect(np.zeros((*image_hw, 3), np.uint8))
