"""MMPose 1.x top-down backend: any top-down config + a local checkpoint, batched per frame.

Instead of ``mmpose.apis.inference_topdown`` (one CPU pipeline per box, then a forward), all crops
of a frame are warped with :mod:`poseflow_ros.pose.crop` (the same centre/scale/affine convention as
MMPose's ``GetBBoxCenterScale`` + ``TopdownAffine`` without UDP: padding 1.25, aspect fixed to the
input size, uniform scale), normalised by the model's own data preprocessor, and run in ONE forward
through backbone, neck and head; the head's ``predict`` decodes (SimCC for RTMPose, heatmaps for
HRNet), and keypoints are mapped back as MMPose does (``kp / input_size * scale + centre - scale / 2``).

Scores: ``Poses.scores`` must lie in [0, 1]; RTMPose's SimCC confidences can exceed 1, so they are
clipped, and the unclipped values of the last call are kept in ``last_raw_scores``.

Checkpoints are never downloaded here: pass a local path (``checkpoint``); its sha256 is verified when
``checkpoint_sha256`` is given. Official weights for the shipped configs are listed by
:func:`official_weights` (URL from mmpose's own model index; OpenMMLab file names carry the first 8 hex
digits of the file's sha256, which is checked when no full hash is given).
"""
from __future__ import annotations

import glob
import os
import re
import time
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .. import models
from ..types import Poses
from . import crop
from .base import PoseEstimator


def _configs_root() -> Path:
    from . import mmpose_compat  # noqa: F401
    import mmpose
    return Path(mmpose.__file__).parent / '.mim' / 'configs'


def resolve_config(config: str) -> str:
    """A config file path, or the name (with or without .py) of a config shipped in the mmpose wheel."""
    p = Path(config).expanduser()
    if p.is_file():
        return str(p)
    name = p.name if p.name.endswith('.py') else p.name + '.py'
    hits = glob.glob(str(_configs_root() / '**' / name), recursive=True)
    if not hits:
        raise models.ModelError(f"MMPose config {config!r} is neither a file nor a config shipped in the "
                                f"mmpose wheel (looked under {_configs_root()})")
    return hits[0]


def official_weights(config: str):
    """(url, sha256_prefix) of the official checkpoint for a shipped config, from mmpose's model index."""
    name = Path(config).name
    name = name if name.endswith('.py') else name + '.py'
    for yml in glob.glob(str(_configs_root() / '**' / '*.yml'), recursive=True):
        txt = Path(yml).read_text(errors='ignore')
        for m in re.finditer(r'Config: (\S+)\n(?:.*\n){0,40}?\s+Weights: (\S+)', txt):
            if os.path.basename(m.group(1)) == name:
                url = m.group(2)
                h = re.search(r'-([0-9a-f]{8})_\d{8}\.pth$', url) or re.search(r'-([0-9a-f]{8})\.pth$', url)
                return url, (h.group(1) if h else '')
    return None, ''


def _load_state_dict(path: Path, trusted: bool) -> dict:
    try:
        ckpt = torch.load(str(path), map_location='cpu', weights_only=True)
    except Exception as e:   # noqa: BLE001 -- official checkpoints pickle numpy objects in 'meta'
        if not trusted:
            raise models.ModelError(
                f'{path} cannot be loaded with weights_only=True ({type(e).__name__}); official OpenMMLab '
                'checkpoints keep numpy objects in their metadata. Pass mmpose_checkpoint_sha256 (its '
                'sha256) so the file is verified and may be unpickled fully, or save a plain state_dict.')
        ckpt = torch.load(str(path), map_location='cpu', weights_only=False)
    return ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt


class MMPoseEstimator(PoseEstimator):
    name = 'mmpose'

    def __init__(self, config: str, checkpoint: str, device: str = 'cpu', checkpoint_sha256: str = '',
                 fp16: bool = False, flip_test: bool = False, device_warp: Optional[bool] = None):
        from . import mmpose_compat  # noqa: F401  (import stand-ins before mmpose)
        from mmengine.config import Config
        from mmpose.apis import init_model

        cfg_path = resolve_config(config)
        ckpt = Path(checkpoint).expanduser() if checkpoint else None
        if ckpt is None or not ckpt.is_file():
            url, prefix = official_weights(cfg_path)
            hint = (f' Download the official weights: curl -LO {url}  (sha256 starts with {prefix}) and pass '
                    'the file as mmpose_checkpoint.') if url else ''
            raise models.ModelError(f'MMPose checkpoint not found: {checkpoint!r}.{hint}')
        trusted = False
        if checkpoint_sha256:
            models.verify_sha256(ckpt, checkpoint_sha256)
            trusted = True
        else:
            url, prefix = official_weights(cfg_path)
            if url and os.path.basename(url) == ckpt.name and prefix:
                got = models.sha256_of(ckpt)
                if not got.startswith(prefix):
                    raise models.ModelError(f'{ckpt} does not match the official file (sha256 {got[:8]}..., '
                                            f'expected {prefix}...); download it again')
                trusted = True
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA GPU")
        cfg = Config.fromfile(cfg_path)
        cfg.model.test_cfg['flip_test'] = bool(flip_test)
        self.model = init_model(cfg, None, device=device)
        try:
            missing, unexpected = self.model.load_state_dict(_load_state_dict(ckpt, trusted), strict=False)
        except RuntimeError as e:    # shape mismatches
            raise models.ModelError(f'checkpoint {ckpt} does not fit config {Path(cfg_path).name}: '
                                    f'{str(e).splitlines()[-1].strip()}') from None
        missing = [k for k in missing if not k.endswith('num_batches_tracked')]
        if missing or unexpected:
            raise models.ModelError(f'checkpoint {ckpt} does not fit config {Path(cfg_path).name}: '
                                    f'{len(missing)} missing, {len(unexpected)} unexpected keys '
                                    f'(e.g. {(missing or unexpected)[:3]})')
        self.model.eval()
        self.config_path = cfg_path
        self.device = device
        self.fp16 = bool(fp16) and device.startswith('cuda')
        if self.fp16:
            self.model.half()
        codec = cfg.codec if 'codec' in cfg else cfg.model.head.decoder
        self.input_wh = tuple(int(v) for v in codec['input_size'])
        self.padding = 1.25
        self.flip_test = bool(flip_test)
        self.name = f'mmpose:{Path(cfg_path).stem}'
        self.last_raw_scores = np.zeros((0, 17), np.float32)
        # crops sampled on the device (default on CUDA); on the CPU OpenCV's warpAffine, as MMPose does
        self.warper = crop.DeviceWarper(device) if (device.startswith('cuda') if device_warp is None
                                                    else device_warp) else None
        self.last_crop_ms = 0.0
        meta = self.model.dataset_meta or {}
        self._flip_indices = meta.get('flip_indices')

    def _data_samples(self, n):
        from mmpose.structures import PoseDataSample
        out = []
        for _ in range(n):
            ds = PoseDataSample()
            ds.set_metainfo({'input_size': self.input_wh, 'flip_indices': self._flip_indices})
            out.append(ds)
        return out

    @torch.inference_mode()
    def estimate(self, image_bgr: np.ndarray, boxes: np.ndarray) -> Poses:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if not len(boxes):
            return Poses.empty()
        t0 = time.perf_counter()
        w, h = self.input_wh
        centers, sizes = crop.box_to_center_scale(boxes, w / h, self.padding)
        m = crop.affine_matrices(centers, sizes, (w, h))
        if self.warper is not None:
            x = self.warper.warp(image_bgr, m, (w, h))                 # (N,3,h,w) BGR float on the device
        else:
            crops = crop.warp_crops(image_bgr, m, (w, h))              # (N,h,w,3) BGR uint8
            x = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2)
        self.last_crop_ms = (time.perf_counter() - t0) * 1e3
        data = self.model.data_preprocessor({'inputs': list(x), 'data_samples': self._data_samples(len(x))},
                                            False)
        inputs = data['inputs'].half() if self.fp16 else data['inputs']
        feats = self.model.extract_feat(inputs)
        if self.flip_test:            # as TopdownPoseEstimator.predict: [original, horizontally flipped]
            feats = [feats, self.model.extract_feat(inputs.flip(-1))]
        preds = self.model.head.predict(feats, data['data_samples'], test_cfg=self.model.test_cfg)
        kp = np.stack([p.keypoints[0] for p in preds]).astype(np.float32)          # crop pixels
        sc = np.stack([p.keypoint_scores[0] for p in preds]).astype(np.float32)
        kp = kp / np.array([w, h], np.float32) * sizes[:, None] + centers[:, None] - 0.5 * sizes[:, None]
        self.last_raw_scores = sc
        return Poses(kp, np.clip(sc, 0.0, 1.0))
