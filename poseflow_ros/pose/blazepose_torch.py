"""BlazePose-full (MediaPipe pose landmark model) ported to PyTorch, as a top-down pose backend.

The weights are the real ones from ``pose_landmark_full.tflite`` (PyPI wheel mediapipe==0.10.14,
Apache-2.0), executed by :class:`poseflow_ros.pose.tflite_graph.TFLiteModule`. Top-down: each person
box becomes a square crop (side = padding x the longer box side, no rotation), resized to 256 x 256
RGB in [0, 1]; all crops of a frame run in one batched forward. The model's 39 x 5 output holds
(x, y, z, visibility, presence) per landmark in crop pixels; the first 33 are the BlazePose landmarks,
mapped to COCO-17 by :data:`poseflow_ros.coco.BLAZEPOSE_TO_COCO`.

Keypoint score = sigmoid(visibility) x pose_flag, where pose_flag is the model's own probability that
a person is in the crop: on a detector false positive the flag is low, so every keypoint of that box
scores low too (presence, "inside the crop", is not used: top-down crops contain the whole box).
"""
from __future__ import annotations

import numpy as np
import torch

from .. import models
from ..coco import BLAZEPOSE_TO_COCO
from ..types import Poses
from . import crop
from .base import PoseEstimator
from .tflite_graph import TFLiteModule

INPUT = 256


class BlazePoseEstimator(PoseEstimator):
    name = 'blazepose_full'

    def __init__(self, models_dir: str = '', device: str = 'cpu', fp16: bool = False, padding: float = 1.25,
                 model_path: str = ''):
        path = model_path or models.model_path('blazepose_full', models_dir)
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA GPU; use device 'cpu'")
        self.device = device
        self.fp16 = bool(fp16) and device.startswith('cuda')     # CPU half convs are slower, not faster
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.padding = padding
        self.model = TFLiteModule(str(path), outputs=['Identity', 'Identity_1']).eval().to(device, self.dtype)

    @torch.inference_mode()
    def forward_crops(self, crops_rgb_uint8: np.ndarray):
        """(N,256,256,3) uint8 RGB crops -> landmarks (N,39,5) raw model units, pose flag (N,)."""
        x = torch.from_numpy(np.ascontiguousarray(crops_rgb_uint8)).to(self.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2).to(self.dtype).div_(255.0)
        lm, flag = self.model(x)
        return (lm.float().reshape(-1, 39, 5).cpu().numpy(), flag.float().reshape(-1).cpu().numpy())

    def crop_matrices(self, boxes: np.ndarray) -> np.ndarray:
        centers, sizes = crop.box_to_center_scale(boxes, 1.0, self.padding)
        return crop.affine_matrices(centers, sizes, (INPUT, INPUT))

    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> Poses:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if not len(boxes):
            return Poses.empty()
        m = self.crop_matrices(boxes)
        crops = crop.warp_crops(image_bgr, m, (INPUT, INPUT))[..., ::-1]     # BGR -> RGB
        lm, flag = self.forward_crops(crops)
        kp = crop.transform_points(lm[:, :33, :2], crop.invert_affine(m))
        vis = 1.0 / (1.0 + np.exp(-lm[:, :33, 3]))
        scores = vis * flag[:, None]
        return Poses(kp[:, BLAZEPOSE_TO_COCO], scores[:, BLAZEPOSE_TO_COCO].astype(np.float32))
