"""BlazePose-full (MediaPipe pose landmark model) ported to PyTorch, as a top-down pose backend.

The weights are the real ones from ``pose_landmark_full.tflite`` (PyPI wheel mediapipe==0.10.14,
Apache-2.0), executed by :class:`poseflow_ros.pose.tflite_graph.TFLiteModule`. Top-down: each person
box becomes a square crop (side = padding x the longer box side, no rotation), resized to 256 x 256
RGB in [0, 1]; all crops of a frame run in one batched forward. The model's 39 x 5 output holds
(x, y, z, visibility, presence) per landmark in crop pixels; the first 33 are the BlazePose landmarks,
mapped to COCO-17 by :data:`poseflow_ros.coco.BLAZEPOSE_TO_COCO`.

Runtimes: ``torch`` executes the port directly (CUDA, FP16); ``onnxruntime`` exports that same torch
module to ONNX once (cached next to the model, keyed by the weights' sha256) and runs it with
onnxruntime, about 2x faster than eager torch on a small CPU; ``auto`` picks onnxruntime on CPU when
the ``onnx`` exporter is installed, torch otherwise.

Keypoint score = sigmoid(visibility) x pose_flag, where pose_flag is the model's own probability that
a person is in the crop: on a detector false positive the flag is low, so every keypoint of that box
scores low too (presence, "inside the crop", is not used: top-down crops contain the whole box).
"""
from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .. import models
from ..coco import BLAZEPOSE_TO_COCO
from ..types import Poses
from . import crop
from .base import PoseEstimator
from .cuda_graph import GraphedForward
from .tflite_graph import TFLiteModule

INPUT = 256


class BlazePoseEstimator(PoseEstimator):
    name = 'blazepose_full'

    def __init__(self, models_dir: str = '', device: str = 'cpu', fp16: bool = False, padding: float = 1.25,
                 model_path: str = '', runtime: str = 'auto', num_threads: int = 0,
                 device_warp: Optional[bool] = None, cuda_graphs: bool = False):
        path = Path(model_path) if model_path else models.model_path('blazepose_full', models_dir)
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA GPU; use device 'cpu'")
        self.device = device
        self.fp16 = bool(fp16) and device.startswith('cuda')     # CPU half convs are slower, not faster
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.padding = padding
        self.model = TFLiteModule(str(path), outputs=['Identity', 'Identity_1']).eval().to(device, self.dtype)
        if runtime not in ('auto', 'torch', 'onnxruntime'):
            raise ValueError(f"pose_runtime must be auto, torch or onnxruntime, got {runtime!r}")
        if runtime == 'auto':
            runtime = 'onnxruntime' if device == 'cpu' and _has_onnx() else 'torch'
        if runtime == 'onnxruntime' and device != 'cpu':
            raise ValueError('pose_runtime=onnxruntime runs on the CPU only; use torch on CUDA')
        self.runtime = runtime
        # crops sampled on the model's device (default on CUDA): the frame is uploaded once per frame
        if device_warp is None:
            device_warp = device.startswith('cuda')
        if device_warp and runtime != 'torch':
            raise ValueError('device_warp needs pose_runtime=torch')
        self.warper = crop.DeviceWarper(device) if device_warp else None
        # on CUDA, the forward of device-warped crops can be replayed from CUDA graphs (see .cuda_graph)
        self._run = GraphedForward(self._forward_bgr, device, enabled=cuda_graphs)
        self.last_crop_ms = 0.0
        self._ort = self._ort_session(path, num_threads) if runtime == 'onnxruntime' else None

    def _ort_session(self, path: Path, num_threads: int):
        import onnxruntime as ort
        onnx_path = path.with_name(f'{path.stem}.port-{models.sha256_of(path)[:12]}.onnx')
        if not onnx_path.is_file():
            tmp = onnx_path.with_suffix(f'.{os.getpid()}.part')     # two processes may export at once
            torch.onnx.export(self.model.float().cpu(), (torch.zeros(1, 3, INPUT, INPUT),), str(tmp),
                              input_names=['x'], output_names=['landmarks', 'flag'], opset_version=17,
                              dynamic_axes={'x': {0: 'n'}, 'landmarks': {0: 'n'}, 'flag': {0: 'n'}},
                              dynamo=False)
            tmp.replace(onnx_path)
        so = ort.SessionOptions()
        # no busy-waiting worker threads: on a small CPU they steal cycles from the other stages
        so.add_session_config_entry('session.intra_op.allow_spinning', '0')
        if num_threads > 0:
            so.intra_op_num_threads = num_threads
        return ort.InferenceSession(str(onnx_path), so, providers=['CPUExecutionProvider'])

    @torch.inference_mode()
    def forward_crops(self, crops_rgb_uint8: np.ndarray):
        """(N,256,256,3) uint8 RGB crops -> landmarks (N,39,5) raw model units, pose flag (N,)."""
        if self._ort is not None:
            x = np.ascontiguousarray(crops_rgb_uint8.transpose(0, 3, 1, 2), np.float32) * (1.0 / 255.0)
            lm, flag = self._ort.run(None, {'x': x})
            return lm.reshape(-1, 39, 5), flag.reshape(-1)
        x = torch.from_numpy(np.ascontiguousarray(crops_rgb_uint8)).to(self.device, non_blocking=True)
        x = x.permute(0, 3, 1, 2).to(self.dtype).div_(255.0)
        lm, flag = self.model(x)
        return (lm.float().reshape(-1, 39, 5).cpu().numpy(), flag.float().reshape(-1).cpu().numpy())

    def _forward_bgr(self, x):
        """(N,3,256,256) BGR crops 0..255 (model dtype) on the device -> landmarks (N,195), flag (N,1)."""
        return self.model(x.flip(1) * (1.0 / 255.0))

    def crop_matrices(self, boxes: np.ndarray) -> np.ndarray:
        centers, sizes = crop.box_to_center_scale(boxes, 1.0, self.padding)
        return crop.affine_matrices(centers, sizes, (INPUT, INPUT))

    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> Poses:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if not len(boxes):
            return Poses.empty()
        t0 = time.perf_counter()
        m = self.crop_matrices(boxes)
        if self.warper is not None:
            with torch.inference_mode():
                x = self.warper.warp(image_bgr, m, (INPUT, INPUT), self.dtype)
                self.last_crop_ms = (time.perf_counter() - t0) * 1e3
                lm, flag = self._run(x)
                lm, flag = lm.float().reshape(-1, 39, 5).cpu().numpy(), flag.float().reshape(-1).cpu().numpy()
        else:
            crops = crop.warp_crops(image_bgr, m, (INPUT, INPUT))[..., ::-1]     # BGR -> RGB
            self.last_crop_ms = (time.perf_counter() - t0) * 1e3
            lm, flag = self.forward_crops(crops)
        kp = crop.transform_points(lm[:, :33, :2], crop.invert_affine(m))
        vis = 1.0 / (1.0 + np.exp(-lm[:, :33, 3]))
        scores = vis * flag[:, None]
        return Poses(kp[:, BLAZEPOSE_TO_COCO], scores[:, BLAZEPOSE_TO_COCO].astype(np.float32))


def _has_onnx() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
        return True
    except ImportError:
        return False
