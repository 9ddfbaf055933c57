"""MMPose 1.x top-down backend: any top-down config + a local checkpoint, batched per frame.

Instead of ``mmpose.apis.inference_topdown`` (one CPU pipeline per box, then a forward), all crops
of a frame are warped with :mod:`poseflow_ros.pose.crop` (the same centre/scale/affine convention
as MMPose's ``GetBBoxCenterScale`` + ``TopdownAffine`` without UDP: padding 1.25, aspect fixed to
the input size, uniform scale), normalised by the model's own data preprocessor, and run in ONE
forward through backbone, neck and head; the head's ``predict`` decodes (SimCC for RTMPose,
heatmaps for HRNet), and keypoints are mapped back as MMPose does
(``kp / input_size * scale + centre - scale / 2``).

**Fast path.** For the two codecs of the shipped top-down configs, SimCC (RTMPose; no DARK, no
visibility) and MSRA heatmaps (HRNet & co.; not unbiased), and without flip test, the whole step
after the crop runs in torch on the model's device: normalisation as the model's data preprocessor,
backbone, neck, ``head.forward`` and MMPose's decode re-written in torch (argmax, the heatmap
quarter-pixel shift, ``locs = -1`` where the maximum is <= 0), so one small tensor comes back to
the host per frame. On CUDA that whole function is replayed from CUDA graphs (:mod:`.cuda_graph`,
``cuda_graph=True``). Any other codec or flip test goes through the head's own ``predict`` (slow
path); both are tested against ``mmpose.apis.inference_topdown``.

Scores: ``Poses.scores`` must lie in [0, 1]; RTMPose's SimCC confidences can exceed 1, so they are
clipped, and the unclipped values of the last call are kept in ``last_raw_scores``.

Checkpoints are never downloaded here: pass a local path (``checkpoint``); its sha256 is verified
when ``checkpoint_sha256`` is given. Official weights for the shipped configs are listed by
:func:`official_weights` (URL from mmpose's own model index; OpenMMLab file names carry the first 8
hex digits of the file's sha256, which is checked when no full hash is given).
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
from ..deprecation import renamed_argument
from ..types import Poses
from . import crop
from .base import PoseEstimator
from .cuda_graph import GraphedForward


def _configs_root() -> Path:
    from . import mmpose_compat  # noqa: F401
    import mmpose

    return Path(mmpose.__file__).parent / '.mim' / 'configs'


def resolve_config(config: str) -> str:
    """Resolve a config: a file path, or the name of a config shipped in the mmpose wheel.

    The name may be given with or without .py.
    """
    p = Path(config).expanduser()
    if p.is_file():
        return str(p)
    name = p.name if p.name.endswith('.py') else p.name + '.py'
    hits = glob.glob(str(_configs_root() / '**' / name), recursive=True)
    if not hits:
        raise models.ModelError(
            f"MMPose config {config!r} is neither a file nor a config shipped in the "
            f"mmpose wheel (looked under {_configs_root()})"
        )
    return hits[0]


def official_weights(config: str):
    """Return (url, sha256_prefix) of the official checkpoint for a shipped config.

    Looked up in mmpose's model index.
    """
    name = Path(config).name
    name = name if name.endswith('.py') else name + '.py'
    for yml in glob.glob(str(_configs_root() / '**' / '*.yml'), recursive=True):
        txt = Path(yml).read_text(errors='ignore')
        for m in re.finditer(r'Config: (\S+)\n(?:.*\n){0,40}?\s+Weights: (\S+)', txt):
            if os.path.basename(m.group(1)) == name:
                url = m.group(2)
                h = re.search(r'-([0-9a-f]{8})_\d{8}\.pth$', url) or re.search(
                    r'-([0-9a-f]{8})\.pth$', url
                )
                return url, (h.group(1) if h else '')
    return None, ''


def _load_state_dict(path: Path, trusted: bool) -> dict:
    try:
        ckpt = torch.load(str(path), map_location='cpu', weights_only=True)
    except Exception as e:  # noqa: BLE001 -- official checkpoints pickle numpy objects in 'meta'
        if not trusted:
            raise models.ModelError(
                f'{path} cannot be loaded with weights_only=True ({type(e).__name__}); official '
                'OpenMMLab checkpoints keep numpy objects in their metadata. Pass '
                'mmpose_checkpoint_sha256 (its sha256) so the file is verified and may be '
                'unpickled fully, or save a plain state_dict.'
            )
        ckpt = torch.load(str(path), map_location='cpu', weights_only=False)
    return ckpt.get('state_dict', ckpt) if isinstance(ckpt, dict) else ckpt


class MMPoseEstimator(PoseEstimator):
    """An MMPose 1.x top-down model (config + local checkpoint), batched over the boxes of a frame.

    Crops are the padded box (``crop_mode`` stays 'box'); the model runs in torch.
    """

    name = 'mmpose'

    def __init__(
        self,
        config: str,
        checkpoint: str,
        device: str = 'cpu',
        checkpoint_sha256: str = '',
        fp16: bool = False,
        flip_test: bool = False,
        device_warp: Optional[bool] = None,
        cuda_graph: bool = False,
        fast_path: bool = True,
        cuda_graphs: Optional[bool] = None,
    ):
        """Build the estimator.

        ``cuda_graph``: replay the fast path's forward from CUDA graphs on CUDA (ignored on the
        CPU); ``cuda_graphs`` is its old name (still accepted, with a warning).
        """
        cuda_graph = renamed_argument(
            cuda_graph, cuda_graphs, 'cuda_graphs', 'cuda_graph', default=False
        )
        from . import mmpose_compat  # noqa: F401  (import stand-ins before mmpose)
        from mmengine.config import Config
        from mmpose.apis import init_model

        cfg_path = resolve_config(config)
        ckpt = Path(checkpoint).expanduser() if checkpoint else None
        if ckpt is None or not ckpt.is_file():
            url, prefix = official_weights(cfg_path)
            hint = (
                (
                    f' Download the official weights: curl -LO {url}  (sha256 starts with '
                    f'{prefix}) and pass the file as mmpose_checkpoint.'
                )
                if url
                else ''
            )
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
                    raise models.ModelError(
                        f'{ckpt} does not match the official file (sha256 {got[:8]}..., '
                        f'expected {prefix}...); download it again'
                    )
                trusted = True
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA GPU")
        cfg = Config.fromfile(cfg_path)
        cfg.model.test_cfg['flip_test'] = bool(flip_test)
        self.model = init_model(cfg, None, device=device)
        try:
            missing, unexpected = self.model.load_state_dict(
                _load_state_dict(ckpt, trusted), strict=False
            )
        except RuntimeError as e:  # shape mismatches
            raise models.ModelError(
                f'checkpoint {ckpt} does not fit config {Path(cfg_path).name}: '
                f'{str(e).splitlines()[-1].strip()}'
            ) from None
        missing = [k for k in missing if not k.endswith('num_batches_tracked')]
        if missing or unexpected:
            raise models.ModelError(
                f'checkpoint {ckpt} does not fit config {Path(cfg_path).name}: '
                f'{len(missing)} missing, {len(unexpected)} unexpected keys '
                f'(e.g. {(missing or unexpected)[:3]})'
            )
        self.model.eval()
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
        # crops sampled on the device (default on CUDA); on the CPU OpenCV's warpAffine, as MMPose
        # does
        self.warper = (
            crop.DeviceWarper(device)
            if (device.startswith('cuda') if device_warp is None else device_warp)
            else None
        )
        self.last_crop_ms = 0.0
        meta = self.model.dataset_meta or {}
        self._flip_indices = meta.get('flip_indices')
        # fast path: decode re-written in torch for the codecs it knows (None = use head.predict)
        self.codec = dict(codec)
        self._decode = None if (flip_test or not fast_path) else _torch_decoder(self.codec)
        self.runtime = 'torch'
        self.graphed_forward = (
            GraphedForward(self._forward, device, enabled=cuda_graph) if self._decode else None
        )

    def _forward(self, x):
        """Run normalise, forward and decode on the crops.

        (N,3,h,w) float crops 0..255 in the image's BGR order -> (crop keypoints (N,K,2), scores
        (N,K)). Everything on the device; normalisation as the model's data preprocessor.
        """
        pre = self.model.data_preprocessor
        if pre._channel_conversion:
            x = x.flip(1)
        x = (x - pre.mean) / pre.std
        if self.fp16:
            x = x.half()
        out = self.model.head.forward(self.model.extract_feat(x))
        return self._decode(out)

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
            x = self.warper.warp(image_bgr, m, (w, h))  # (N,3,h,w) BGR float on the device
        else:
            crops = crop.warp_crops(image_bgr, m, (w, h))  # (N,h,w,3) BGR uint8
            x = torch.from_numpy(crops).to(self.device).permute(0, 3, 1, 2)
        self.last_crop_ms = (time.perf_counter() - t0) * 1e3
        if self.graphed_forward is not None:
            kp, sc = self.graphed_forward(x.float())
            kp, sc = kp.float().cpu().numpy(), sc.float().cpu().numpy()
            return self._to_image(kp, sc, centers, sizes)
        data = self.model.data_preprocessor(
            {'inputs': list(x), 'data_samples': self._data_samples(len(x))}, False
        )
        inputs = data['inputs'].half() if self.fp16 else data['inputs']
        feats = self.model.extract_feat(inputs)
        if self.flip_test:  # as TopdownPoseEstimator.predict: [original, horizontally flipped]
            feats = [feats, self.model.extract_feat(inputs.flip(-1))]
        preds = self.model.head.predict(feats, data['data_samples'], test_cfg=self.model.test_cfg)
        kp = np.stack([p.keypoints[0] for p in preds]).astype(np.float32)  # crop pixels
        sc = np.stack([p.keypoint_scores[0] for p in preds]).astype(np.float32)
        return self._to_image(kp, sc, centers, sizes)

    def _to_image(self, kp, sc, centers, sizes) -> Poses:
        """Crop (model input) pixels -> image pixels, as MMPose's inference_topdown."""
        kp = (
            kp / np.array(self.input_wh, np.float32) * sizes[:, None]
            + centers[:, None]
            - 0.5 * sizes[:, None]
        )
        self.last_raw_scores = sc
        return Poses(kp.astype(np.float32), np.clip(sc, 0.0, 1.0))


def _torch_decoder(codec: dict):
    """MMPose's decode for the codec, in torch on the head's raw output; None if not supported."""
    kind = codec.get('type')
    if (
        kind == 'SimCCLabel'
        and not codec.get('use_dark', False)
        and not codec.get('decode_visibility', False)
    ):
        ratio = float(codec.get('simcc_split_ratio', 2.0))

        def decode_simcc(out):
            sx, sy = out  # (N,K,Wx), (N,K,Wy) logits
            vx, ix = sx.float().max(-1)
            vy, iy = sy.float().max(-1)
            vals = torch.minimum(vx, vy)  # get_simcc_maximum
            locs = torch.stack([ix, iy], -1).float()
            locs = torch.where((vals <= 0)[..., None], torch.full_like(locs, -1.0), locs)
            return locs / ratio, vals

        return decode_simcc
    if kind == 'MSRAHeatmap' and not codec.get('unbiased', False):
        in_w, in_h = codec['input_size']
        hm_w, hm_h = codec['heatmap_size']
        sx, sy = in_w / hm_w, in_h / hm_h  # python floats: no host tensor inside a CUDA graph

        def decode_heatmap(hm):
            hm = hm.float()
            n, k, h, w = hm.shape
            vals, idx = hm.reshape(n, k, h * w).max(-1)  # get_heatmap_maximum
            x, y = idx % w, idx // w
            # refine_keypoints: a quarter pixel towards the higher neighbour, under MMPose's own
            # bounds
            flat = hm.reshape(n, k, h * w)

            def at(yy, xx):
                return flat.gather(-1, (yy.clamp(0, h - 1) * w + xx.clamp(0, w - 1))[..., None])[
                    ..., 0
                ]

            dx = torch.where(
                (x > 1) & (x < w - 1) & (y > 0) & (y < h), at(y, x + 1) - at(y, x - 1), 0.0
            )
            dy = torch.where(
                (y > 1) & (y < h - 1) & (x > 0) & (x < w), at(y + 1, x) - at(y - 1, x), 0.0
            )
            locs = torch.stack([x, y], -1).float()
            neg = (vals <= 0)[..., None]
            locs = torch.where(neg, torch.full_like(locs, -1.0), locs)
            # a location set to -1 is outside the bounds above, so MMPose adds no shift there
            shift = torch.stack([torch.sign(dx), torch.sign(dy)], -1) * 0.25
            locs = locs + torch.where(neg, torch.zeros_like(shift), shift)
            return torch.stack([locs[..., 0] * sx, locs[..., 1] * sy], -1), vals

        return decode_heatmap
    return None
