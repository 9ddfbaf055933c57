"""The pose-estimator interface every backend implements."""

from __future__ import annotations

import abc
from typing import TYPE_CHECKING, Optional

import numpy as np

from ..types import Poses

if TYPE_CHECKING:  # annotations only: importing torch here would slow every import of the core
    from .cuda_graph import GraphedForward


class PoseEstimator(abc.ABC):
    """Top-down pose: one forward over all person boxes of a frame (batched crops).

    Besides :meth:`estimate`, the pipeline and the node read these attributes; each has a default
    here, and a backend sets the ones that apply to it (in ``__init__``, or per call):

    - ``name``: the backend's name in logs and statistics;
    - ``device``: where the model runs (``'cpu'``, ``'cuda'``, ``'cuda:N'``);
    - ``runtime``: what executes the model (e.g. ``'torch'``, ``'onnxruntime'``), for logs and
      statistics;
    - ``crop_mode``: how persons are cropped, one of :data:`poseflow_ros.pose.roi.CROP_MODES`;
      with ``'temporal'`` the pipeline keeps the previous frame's crops (ROI memory) and passes
      them to ``estimate(image, boxes, rois=...)``. Backends without alignment ROIs stay ``'box'``;
    - ``last_crop_ms``: milliseconds of the last :meth:`estimate` spent making crops (the pipeline
      reports it as the ``crop`` stage and the rest of the call as ``pose``);
    - ``graphed_forward``: the backend's CUDA-graph runner of its batched forward
      (:class:`~poseflow_ros.pose.cuda_graph.GraphedForward`), or None when it has none;
      :meth:`warmup` captures its graphs.
    """

    name: str = 'pose'
    device: str = 'cpu'
    runtime: str = 'torch'
    crop_mode: str = 'box'
    last_crop_ms: float = 0.0
    graphed_forward: Optional[GraphedForward] = None

    @abc.abstractmethod
    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> Poses:
        """Estimate one pose per box.

        ``image_bgr``: H x W x 3 uint8; ``boxes``: (N,4) xyxy pixels -> Poses with N entries (same
        order).
        """

    def set_crop(
        self, mode: str, refine_passes: int = 1, border: str = 'zero', flip_test: bool = False
    ) -> None:
        """Choose how persons are cropped.

        Set from the PipelineConfig settings ``pose_crop``, ``pose_refine_passes``,
        ``pose_crop_border`` and ``pose_flip_test``. They describe BlazePose's crops; a backend
        without alignment ROIs (MMPose: its crop is the padded box, its flip test a constructor
        argument) keeps its own crops and ``crop_mode`` stays ``'box'``, so this default does
        nothing.
        """

    def set_heatmap_refine(self, on: bool) -> None:
        """Choose whether landmarks are decoded with the model's heatmaps.

        The setting is ``pose_heatmap_refine``. BlazePose refines its regressed landmarks from its
        own heatmaps as MediaPipe does; a backend whose decoding is fixed by its model config
        (MMPose: SimCC or heatmap decoding) keeps it, so this default does nothing.
        """

    def warmup(self, image_hw=(480, 640), max_persons: int = 1) -> None:
        """Run on a blank frame so the first real frames are not slow.

        With CUDA graphs (``graphed_forward`` enabled), once per batch-size bucket up to the one
        holding ``max_persons``: every graph is then captured here, not when a frame first shows
        that many people.
        """
        img = np.zeros((*image_hw, 3), np.uint8)
        box = np.array([[10, 10, 110, 210]], np.float32)
        run = self.graphed_forward
        sizes = [1]
        if run is not None and run.enabled:
            top = run.bucket(max(1, int(max_persons))) or run.buckets[-1]
            sizes = [b for b in run.buckets if b <= top]
        for n in sizes:
            self.estimate(img, np.repeat(box, n, 0))
