"""The person-detector interface: what every detector (and the tiling wrapper) exposes."""

from __future__ import annotations

import abc

import numpy as np

from ..types import Detections

# Person boxes scoring below this are discarded (the one default: PipelineConfig, every detector).
DEFAULT_SCORE_THRESHOLD = 0.25
DEFAULT_MAX_DETECTIONS = 50


class PersonDetector(abc.ABC):
    """Finds people: image (H x W x 3 uint8 BGR) -> Detections (xyxy pixels, scores).

    Every detector sets these attributes (the pipeline, the node's statistics and the tiling
    wrapper read them directly):

    * ``model``: the model's name (e.g. ``'rtmdet_nano_person'``, as in
      :mod:`poseflow_ros.models`);
    * ``runtime``: what executes it (``'onnxruntime'`` | ``'torch'``; ``''`` for plain python);
    * ``device``: ``'cpu'`` or ``'cuda[:N]'``;
    * ``score_threshold``: boxes scoring below it are dropped; the pipeline changes it live;
    * ``max_detections``: at most this many boxes per frame, highest score first;
    * ``input_size``: long side of the network input in pixels (0: frames are taken at their size);
    * ``last_passes``: network passes the last :meth:`detect` made (1; tiles + frame when tiled).

    ``name`` (for logs and statistics) is ``model/runtime``.
    """

    model: str = 'detector'
    runtime: str = ''
    device: str = 'cpu'
    score_threshold: float = DEFAULT_SCORE_THRESHOLD
    max_detections: int = DEFAULT_MAX_DETECTIONS
    input_size: int = 0
    last_passes: int = 1

    @property
    def name(self) -> str:
        """``model/runtime`` (the model alone without a runtime)."""
        return f'{self.model}/{self.runtime}' if self.runtime else self.model

    @abc.abstractmethod
    def detect(self, image_bgr: np.ndarray) -> Detections:
        """Person boxes in ``image_bgr`` (image pixels), highest score first."""

    def warmup(self, image_hw=(480, 640)) -> None:
        """One detection on a blank ``image_hw`` frame, so that the first real one is no slower."""
        self.detect(np.zeros((*image_hw, 3), np.uint8))
