"""BlazePose-full (MediaPipe pose landmark model) ported to PyTorch, as a top-down pose backend.

The weights are the real ones from ``pose_landmark_full.tflite`` (PyPI wheel mediapipe==0.10.14,
Apache-2.0), executed by :class:`poseflow_ros.pose.tflite_graph.TFLiteModule`. Top-down: each
person gets a square crop, resized to 256 x 256 RGB in [0, 1]; all crops of a frame run in one
batched forward. The first crop of a person is its box (side = padding x the longer box side,
upright); the model was trained on crops centred on the hips, scaled and rotated from its own
alignment landmarks 33/34 (:mod:`poseflow_ros.pose.roi`), so ``crop_mode`` 'refine' runs more
passes on that ROI and 'temporal' takes the previous frame's ROI of a tracked person (the
pipeline's ROI memory), as MediaPipe tracks. The model's 39 x 5 output holds (x, y, z, visibility,
presence) per landmark in crop pixels; the first 33 are the BlazePose landmarks, mapped to COCO-17
by :data:`poseflow_ros.coco.BLAZEPOSE_TO_COCO`. Its 39 x 3 world landmarks (``Identity_4``: metres,
hip-centred) are turned back by the crop's rotation to camera-aligned axes (x right, y down, z away
from the camera) and returned as ``Poses.keypoints_3d``.

Runtimes: ``torch`` executes the port directly (CUDA, FP16); ``onnxruntime`` exports that same
torch module to ONNX once (cached next to the model, keyed by the weights' sha256), optimises the
export (:mod:`poseflow_ros.pose.onnx_passes`: constants folded, every ``Pad`` moved into its
convolution; bit-identical results, 1.3x faster per crop on onnxruntime) and runs it with
onnxruntime, about 2x faster than eager torch on a small CPU; ``openvino`` runs the same ONNX with
OpenVINO's CPU plugin in FP32 (the same landmarks within 0.01 crop px). Before the passes its
forward was 1.2-1.5x faster than onnxruntime's; after them the two are within noise of each other
on a 2-core CPU, and OpenVINO is slower (and slows the detector run after it) when other processes
load the cores, where onnxruntime's threads do not busy-wait; so for fp32 ``auto`` picks
onnxruntime on CPU when the ``onnx`` exporter is installed, else torch (openvino for bf16). Int8
is not offered: even weight-only per-channel int8 moves the landmarks by 7.5 crop px on average
(static QDQ int8: 8 to 28 px), so BlazePose-full needs quantisation-aware training to run in int8.
``precision='bf16'`` runs the graph on OpenVINO in bfloat16 on a CPU with bf16 units (AVX512_BF16,
AMX): 1.9-2x the forward's speed, for landmarks 1 crop px away from fp32's (median; p95 7 px) and
no AP difference measurable on 50 labelled persons (COCO sample + MMPose's test sets).
``precision='auto'`` (PipelineConfig's default) is bf16 where it can run and fp32 elsewhere
(:func:`auto_precision`); the class's own default stays fp32. Marking nodes to stay f32 through
their rt_info (the keys ``disable_fp16_compression``, ``_0`` and ``precise`` tried) did not change
OpenVINO 2026.4's bf16 results, so the sensitive layers could not be kept in f32 that way.

Keypoint score = sigmoid(visibility) x pose_flag, where pose_flag is the model's own probability
that a person is in the crop: on a detector false positive the flag is low, so every keypoint of
that box scores low too (presence, "inside the crop", is not used: top-down crops contain the whole
box).
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from .. import models
from ..coco import BLAZEPOSE_TO_COCO
from ..deprecation import renamed_argument
from ..types import Poses
from . import BLAZEPOSE_RUNTIMES as RUNTIMES
from . import POSE_PRECISIONS as PRECISIONS
from . import crop, onnx_passes, roi
from .base import PoseEstimator
from .cuda_graph import GraphedForward
from .heatmap import HeatmapRefined
from .tflite_graph import TFLiteModule

INPUT = 256
OUTPUTS = ('Identity', 'Identity_1', 'Identity_4')  # graph output order
HEATMAP_OUTPUTS = ('Identity', 'Identity_1', 'Identity_3', 'Identity_4')  # + the 64x64 heatmaps
# bump when the exported graph changes: old cached exports are then not reused (3: constant pads)
ONNX_EXPORT = 3


class BlazePoseEstimator(PoseEstimator):
    """BlazePose-full top-down: crops from boxes or alignment ROIs, one batched forward per pass.

    ``refine_passes``: after the pass on a crop made from the box, run the model again on the
    alignment ROI computed from that pass's landmarks 33/34 (centred on the hips, scaled and
    rotated as the model was trained), up to this many times; a person keeps the new result where
    its pose flag is at least ``refine_keep`` x the previous one, and stays on the box crop when
    the ROI is unreliable (:func:`poseflow_ros.pose.roi.reliable`). ``estimate(..., rois=...)``
    takes prior ROIs (e.g. the previous frame's, for tracked people): rows with valid = 1 are
    cropped there instead of the box and are not refined (``refine_prior`` = True refines them
    too). ``heatmap_refine``: decode the landmarks with the model's heatmaps as MediaPipe does
    (:mod:`poseflow_ros.pose.heatmap`; off here, so the port compares with the TFLite graph's raw
    output; on in the pipeline by default).
    """

    name = 'blazepose_full'

    def __init__(
        self,
        models_dir: str = '',
        device: str = 'cpu',
        fp16: bool = False,
        padding: float = 1.25,
        model_path: str = '',
        runtime: str = 'auto',
        num_threads: int = 0,
        device_warp: Optional[bool] = None,
        cuda_graph: bool = False,
        crop_mode: str = 'box',
        refine_passes: int = 1,
        refine_keep: float = 0.8,
        refine_prior: bool = False,
        roi_check: Optional[roi.RoiCheck] = None,
        border: str = 'zero',
        flip_test: bool = False,
        heatmap_refine: bool = False,
        cuda_graphs: Optional[bool] = None,  # the old name of cuda_graph (warns)
        precision: str = 'fp32',
    ):
        path = Path(model_path) if model_path else models.model_path('blazepose_full', models_dir)
        if device.startswith('cuda') and not torch.cuda.is_available():
            raise ValueError("device='cuda' but torch sees no CUDA GPU; use device 'cpu'")
        if precision not in PRECISIONS:
            raise ValueError(
                f"pose_precision must be one of {', '.join(PRECISIONS)}, got {precision!r}"
            )
        if precision == 'auto':
            precision = auto_precision(device, runtime)
        if precision == 'bf16':
            # bfloat16 runs on OpenVINO's CPU plugin only: 'auto' means openvino then
            if device != 'cpu':
                raise ValueError('pose_precision=bf16 is for the CPU; use fp16 on CUDA')
            if runtime not in ('auto', 'openvino'):
                raise ValueError(
                    f'pose_precision=bf16 runs on OpenVINO, not {runtime}: set '
                    'pose_runtime:=openvino (or auto), or pose_precision:=fp32'
                )
            runtime = 'openvino'
        self.precision = precision
        self.device = device
        # CPU half convs are slower, not faster
        self.fp16 = bool(fp16) and device.startswith('cuda')
        self.dtype = torch.float16 if self.fp16 else torch.float32
        self.padding = padding
        self.refine_keep = float(refine_keep)
        self.refine_prior = bool(refine_prior)
        self.roi_check = roi_check or roi.RoiCheck()
        self.set_crop(crop_mode, refine_passes, border, flip_test)
        # Identity: 39 x 5 landmarks, Identity_1: pose flag, Identity_4: 39 x 3 world landmarks (m)
        # heatmap_refine: landmarks refined from the model's heatmaps as MediaPipe does (.heatmap)
        self.model_path, self.heatmap_refine = path, bool(heatmap_refine)
        self.model = _build_model(path, self.heatmap_refine).to(device, self.dtype)
        if runtime not in RUNTIMES:
            raise ValueError(f"pose_runtime must be one of {', '.join(RUNTIMES)}, got {runtime!r}")
        if runtime == 'auto':
            runtime = auto_runtime(device)
        if runtime in ('onnxruntime', 'openvino') and device != 'cpu':
            raise ValueError(f'pose_runtime={runtime} runs on the CPU only; use torch on CUDA')
        self.runtime = runtime
        # crops sampled on the model's device (default on CUDA): each frame is uploaded once
        if device_warp is None:
            device_warp = device.startswith('cuda')
        if device_warp and runtime != 'torch':
            raise ValueError('device_warp needs pose_runtime=torch')
        self.warper = crop.DeviceWarper(device) if device_warp else None
        # on CUDA, the forward of device-warped crops may replay from CUDA graphs (.cuda_graph)
        cuda_graph = renamed_argument(
            cuda_graph, cuda_graphs, 'cuda_graphs', 'cuda_graph', default=False
        )
        self.graphed_forward = GraphedForward(self._forward_bgr, device, enabled=cuda_graph)
        self.last_crop_ms = 0.0
        self.last_passes = 0  # batched forwards of the last estimate()
        self.last_crops = 0  # crops they ran (a mirrored crop counts)
        self.num_threads = int(num_threads)
        self.onnx_passes = True  # the CPU runtimes load the optimised export (set_onnx_passes)
        self._ort = self._ort_session(path, num_threads) if runtime == 'onnxruntime' else None
        self._ov = self._ov_request(path, num_threads) if runtime == 'openvino' else None

    def _onnx_export(self, path: Path) -> Path:
        """Export the port to ONNX (batch axis dynamic) once, cached next to the model file.

        Returns the path of the graph the CPU runtimes load: the export after
        :func:`.onnx_passes.optimise` (cached beside it), or the export itself when
        :meth:`set_onnx_passes` turned the passes off.
        """
        # the key names the export version and the heatmap variant too: an export without the
        # world landmarks, or with the other landmark decoding, is never reused
        onnx_path = path.with_name(
            f'{path.stem}.port{ONNX_EXPORT}{"-hm" if self.heatmap_refine else ""}'
            f'-{models.sha256_of(path)[:12]}.onnx'
        )
        if not onnx_path.is_file():
            tmp = onnx_path.with_suffix(f'.{os.getpid()}.part')  # two processes may export at once
            torch.onnx.export(
                self.model.float().cpu(),
                (torch.zeros(1, 3, INPUT, INPUT),),
                str(tmp),
                input_names=['x'],
                output_names=['landmarks', 'flag', 'world'],
                opset_version=17,
                dynamic_axes={
                    'x': {0: 'n'},
                    'landmarks': {0: 'n'},
                    'flag': {0: 'n'},
                    'world': {0: 'n'},
                },
                dynamo=False,
            )
            tmp.replace(onnx_path)
        if not self.onnx_passes:
            return onnx_path
        # what the CPU runtimes load: constants folded, Pad nodes moved into their convolutions
        # (.onnx_passes: the same numbers, ~1.3x faster on onnxruntime), also cached
        optimised = onnx_path.with_name(f'{onnx_path.stem}-opt.onnx')
        if not optimised.is_file():
            try:
                onnx_passes.optimise(onnx_path, optimised)
            except ImportError as e:  # the passes need onnxruntime; OpenVINO runs without them
                msg = f'ONNX passes skipped ({e}): the export runs as written'
                warnings.warn(msg, stacklevel=2)
                return onnx_path
        return optimised

    def set_onnx_passes(self, on: bool) -> None:
        """Load the ONNX export with or without :mod:`.onnx_passes` (default with).

        Without, the CPU runtime runs the graph as the exporter wrote it (the pose stage as it was
        before the passes, kept for ``tools/bench_pipeline.py``'s reference). Rebuilds the CPU
        runtime's session.
        """
        on = bool(on)
        if on == self.onnx_passes:
            return
        self.onnx_passes = on
        self._reload_cpu_runtime()

    def _reload_cpu_runtime(self) -> None:
        """Rebuild the onnxruntime session or OpenVINO request from the current export choice."""
        if self._ort is not None:
            self._ort = self._ort_session(self.model_path, self.num_threads)
        if self._ov is not None:
            self._ov = self._ov_request(self.model_path, self.num_threads)

    def _ort_session(self, path: Path, num_threads: int):
        import onnxruntime as ort

        onnx_path = self._onnx_export(path)
        so = ort.SessionOptions()
        # no busy-waiting worker threads: on a small CPU they steal cycles from the other stages
        so.add_session_config_entry('session.intra_op.allow_spinning', '0')
        if num_threads > 0:
            so.intra_op_num_threads = num_threads
        return ort.InferenceSession(str(onnx_path), so, providers=['CPUExecutionProvider'])

    def _ov_request(self, path: Path, num_threads: int):
        """Compile the ONNX export with OpenVINO on the CPU and return an infer request.

        FP32 by default (no downcast: the landmarks stay those of onnxruntime); bf16 with
        ``precision='bf16'``, which fails here on a CPU without bf16 units (OpenVINO would
        otherwise fall back to f32 silently). Tuned for latency (one batch at a time).
        """
        try:
            import openvino as ov
        except ImportError as e:
            raise ImportError(
                "pose_runtime=openvino needs the 'openvino' package: pip install openvino "
                '(or use pose_runtime:=onnxruntime)'
            ) from e

        core = ov.Core()
        hint = 'f32'
        if self.precision == 'bf16':
            if not cpu_has_bf16():
                caps = ', '.join(core.get_property('CPU', 'OPTIMIZATION_CAPABILITIES'))
                raise RuntimeError(
                    'pose_precision=bf16 needs a CPU with bfloat16 units (AVX512_BF16 or AMX); '
                    f"OpenVINO reports this one's as {caps}: use pose_precision:=fp32"
                )
            hint = 'bf16'
        cfg = {'PERFORMANCE_HINT': 'LATENCY', 'INFERENCE_PRECISION_HINT': hint}
        if num_threads > 0:
            cfg['INFERENCE_NUM_THREADS'] = int(num_threads)
        compiled = core.compile_model(str(self._onnx_export(path)), 'CPU', cfg)
        self._ov_outputs = list(compiled.outputs)  # landmarks, flag, world
        return compiled.create_infer_request()

    @torch.inference_mode()
    def forward_crops(self, crops_rgb_uint8: np.ndarray):
        """Run the model on (N,256,256,3) uint8 RGB crops.

        Returns landmarks (N,39,5) in raw model units, pose flag (N,), world landmarks (N,39,3)
        in metres in the crop's axes.
        """
        if self._ort is not None:
            x = np.ascontiguousarray(crops_rgb_uint8.transpose(0, 3, 1, 2), np.float32) * (
                1.0 / 255.0
            )
            lm, flag, world = self._ort.run(None, {'x': x})
            return lm.reshape(-1, 39, 5), flag.reshape(-1), world.reshape(-1, 39, 3)
        if self._ov is not None:
            x = np.ascontiguousarray(crops_rgb_uint8.transpose(0, 3, 1, 2), np.float32) * (
                1.0 / 255.0
            )
            res = self._ov.infer({0: x})  # releases the GIL, like onnxruntime
            # copies: the request's output buffers are reused by the next infer
            lm, flag, world = (np.array(res[o], np.float32) for o in self._ov_outputs)
            return lm.reshape(-1, 39, 5), flag.reshape(-1), world.reshape(-1, 39, 3)
        x = torch.from_numpy(np.ascontiguousarray(crops_rgb_uint8)).to(
            self.device, non_blocking=True
        )
        x = x.permute(0, 3, 1, 2).to(self.dtype).div_(255.0)
        return _to_numpy(self.model(x))

    def _forward_bgr(self, x):
        """Run the model on (N,3,256,256) BGR crops 0..255 (model dtype) on the device.

        Returns landmarks (N,195), flag (N,1), world (N,117).
        """
        return self.model(x.flip(1) * (1.0 / 255.0))

    def set_heatmap_refine(self, on: bool) -> None:
        """Refine the landmarks from the model's heatmaps, or keep the regressed ones.

        The refinement is MediaPipe's decoding (:mod:`poseflow_ros.pose.heatmap`). Rebuilds the
        model (and the CPU runtime's session from its own cached ONNX export) when the choice
        changes; call it before the first estimate (CUDA graphs are captured again).
        """
        on = bool(on)
        if on == self.heatmap_refine:
            return
        self.heatmap_refine = on
        self.model = _build_model(self.model_path, on).to(self.device, self.dtype)
        self.graphed_forward = GraphedForward(
            self._forward_bgr, self.device, enabled=self.graphed_forward.enabled
        )
        self._reload_cpu_runtime()

    def set_crop(
        self, mode: str, refine_passes: int = 1, border: str = 'zero', flip_test: bool = False
    ) -> None:
        """Set how persons are cropped (see :data:`poseflow_ros.pose.roi.CROP_MODES`).

        'box' one pass on the box crop; 'refine' + ``refine_passes`` passes on the alignment ROI;
        'temporal' the caller passes the previous frame's ROIs (the pipeline's
        :class:`~poseflow_ros.pose.roi.RoiMemory`), new people get the box crop +
        ``refine_passes``. ``border``: 'zero' or 'replicate' outside the image. ``flip_test``:
        each crop also runs mirrored (same batch) and the two results are averaged.
        """
        if mode not in roi.CROP_MODES:
            raise ValueError(f'pose_crop must be one of {roi.CROP_MODES}, got {mode!r}')
        crop._border_mode(border)  # validates
        self.crop_mode = mode
        self.refine_passes = 0 if mode == 'box' else int(refine_passes)
        self.border = border
        self.flip_test = bool(flip_test)

    def crop_matrices(self, boxes: np.ndarray) -> np.ndarray:
        """(N,4) boxes -> (N,2,3) image-to-crop matrices of the upright box crops."""
        return crop.roi_matrices(crop.boxes_to_rois(boxes, self.padding), (INPUT, INPUT))

    def run_rois(self, image_bgr: np.ndarray, rois: np.ndarray) -> dict:
        """Run one batched pass on the crops ``rois`` (N,>=4).

        Returns a dict of image-space results: ``points`` (N,39,2) px, ``visibility`` (N,39)
        sigmoid, ``flag`` (N,), ``world`` (N,39,3) metres with camera-aligned axes (crop rotation
        undone), ``rois`` (N,4) the crops used.
        """
        rois = np.asarray(rois, np.float32).reshape(-1, np.shape(rois)[-1])[:, :4]
        n = len(rois)
        t0 = time.perf_counter()
        m = crop.roi_matrices(rois, (INPUT, INPUT))
        if self.flip_test:  # the mirrored crops go into the same batch
            m = np.concatenate([m, np.einsum('ij,njk->nik', _MIRROR, _homogeneous(m))[:, :2]])
        if self.warper is not None:
            with torch.inference_mode():
                x = self.warper.warp(image_bgr, m, (INPUT, INPUT), self.dtype, self.border)
                self.last_crop_ms += (time.perf_counter() - t0) * 1e3
                lm, flag, world = _to_numpy(self.graphed_forward(x))
        else:
            crops = crop.warp_crops(image_bgr, m, (INPUT, INPUT), border=self.border)[
                ..., ::-1
            ]  # -> RGB
            self.last_crop_ms += (time.perf_counter() - t0) * 1e3
            lm, flag, world = self.forward_crops(crops)
        self.last_passes += 1
        self.last_crops += len(m)
        points = crop.transform_points(lm[:, :, :2], crop.invert_affine(m))
        vis = 1.0 / (1.0 + np.exp(-lm[:, :, 3].astype(np.float64)))
        if self.flip_test:  # mirrored results: swap left/right, mirror world x, average
            world[n:, :, 0] *= -1.0
            points = (points[:n] + points[n:, FLIP_INDEX]) * 0.5
            vis = (vis[:n] + vis[n:, FLIP_INDEX]) * 0.5
            world = (world[:n] + world[n:, FLIP_INDEX]) * 0.5
            flag = (flag[:n] + flag[n:]) * 0.5
        return {
            'points': points.astype(np.float32),
            'visibility': vis,
            'flag': flag.astype(np.float32),
            'world': crop.rotate_points(world, rois[:, 3]),
            'rois': rois,
        }

    def _alignment(self, out: dict, boxes: np.ndarray, frame_boxes: np.ndarray):
        """Compute a pass's alignment ROIs and whether they can be used.

        Returns the alignment ROIs (N,4), whether their geometry is usable for a crop of these
        boxes (N,) and whether they are reliable enough to carry to the next frame (N,: geometry
        and pose flag). ``frame_boxes``: every box of the frame (a ROI with another person's box
        centre near its own centre is not used).
        """
        r = roi.alignment_rois(out['points'])
        hips = out['visibility'][:, [roi.LEFT_HIP, roi.RIGHT_HIP]]
        geom = roi.reliable(r, boxes, None, hips, self.roi_check)
        # someone near its centre
        geom &= ~roi.crowded(r, boxes, frame_boxes, self.roi_check.crowd_inner)
        return r, geom, geom & (out['flag'] >= self.roi_check.min_flag)

    @staticmethod
    def _take(out: dict, cand: dict, rows: np.ndarray, sel: np.ndarray) -> None:
        for k in out:
            out[k][rows] = cand[k][sel]

    def estimate(
        self, image_bgr: np.ndarray, boxes: np.ndarray, rois: Optional[np.ndarray] = None
    ) -> Poses:
        """Poses for ``boxes`` (N,4); ``rois`` (N,5) optional prior crops.

        Rows of ``rois`` with valid = 0 use the box.

        A prior crop whose pose flag comes out below ``roi_check.min_flag`` (the person left that
        crop) is redone from the box, in the same batch as the first refinement, the better flag
        wins. The result's ``rois`` are the alignment ROIs of the final landmarks with valid = 1
        where they may be used next frame.
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        self.last_crop_ms = 0.0
        self.last_passes = self.last_crops = 0
        if not len(boxes):
            return Poses.empty()
        box_rois = crop.boxes_to_rois(boxes, self.padding)
        start = box_rois.copy()
        prior = np.zeros(len(boxes), bool)
        if rois is not None:
            rois = np.asarray(rois, np.float32).reshape(len(boxes), 5)
            prior = (rois[:, 4] > 0) & np.isfinite(rois[:, :4]).all(1)
            # someone came close
            prior &= ~roi.crowded(rois, boxes, boxes, self.roi_check.crowd_inner)
            start[prior] = rois[prior, :4]
        out = self.run_rois(image_bgr, start)
        r, geom, carry = self._alignment(out, boxes, boxes)
        lost = prior & (out['flag'] < self.roi_check.min_flag)  # the tracked crop lost the person
        refine = (np.ones(len(boxes), bool) if self.refine_prior else ~prior) & ~lost
        for k in range(max(self.refine_passes, int(lost.any()))):
            ridx = (
                np.flatnonzero(refine & geom) if k < self.refine_passes else np.zeros(0, np.int64)
            )
            lidx = np.flatnonzero(lost)
            lost[:] = False
            if not len(ridx) and not len(lidx):
                break
            # one batch: alignment-ROI crops of the people refined, box crops of the people lost
            cand = self.run_rois(image_bgr, np.concatenate([r[ridx], box_rois[lidx]]))
            idx = np.concatenate([ridx, lidx])
            keep = np.concatenate(
                [
                    cand['flag'][: len(ridx)] >= self.refine_keep * out['flag'][ridx],
                    cand['flag'][len(ridx) :] > out['flag'][lidx],
                ]
            )
            rows, sel = idx[keep], np.flatnonzero(keep)
            self._take(out, cand, rows, sel)
            cr, cgeom, ccarry = self._alignment(cand, boxes[idx], boxes)
            r[rows], geom[rows], carry[rows] = cr[sel], cgeom[sel], ccarry[sel]
            refine[:] = False
            refine[rows] = True  # only people that kept the new crop are worth another pass
        scores = (out['visibility'][:, :33] * out['flag'][:, None])[:, BLAZEPOSE_TO_COCO]
        nxt = np.concatenate([r, carry[:, None].astype(np.float32)], 1)
        return Poses(
            out['points'][:, BLAZEPOSE_TO_COCO],
            scores.astype(np.float32),
            keypoints_3d=out['world'][:, BLAZEPOSE_TO_COCO].astype(np.float32),
            rois=nxt,
        )


def _build_model(path: Path, heatmap_refine: bool) -> torch.nn.Module:
    """Build the graph module returning (landmarks, flag, world).

    With ``heatmap_refine`` it also computes the heatmaps and returns the landmarks refined from
    them.
    """
    if not heatmap_refine:
        return TFLiteModule(str(path), outputs=list(OUTPUTS)).eval()
    graph = TFLiteModule(str(path), outputs=list(HEATMAP_OUTPUTS))
    return HeatmapRefined(graph, input_size=INPUT).eval()


def _homogeneous(m: np.ndarray) -> np.ndarray:
    """(N,2,3) -> (N,3,3) affine matrices."""
    return np.concatenate([m, np.broadcast_to([[[0.0, 0.0, 1.0]]], (len(m), 1, 3))], 1)


def _flip_index() -> np.ndarray:
    """BlazePose landmark index of each landmark's mirror image.

    Left <-> right; 0 and 33-38 stay.
    """
    idx = np.arange(39)
    pairs = [(1, 4), (2, 5), (3, 6), (7, 8), (9, 10)] + [(i, i + 1) for i in range(11, 33, 2)]
    for a, b in pairs:
        idx[a], idx[b] = b, a
    return idx


FLIP_INDEX = _flip_index()
# the mirrored crop: crop x -> INPUT - x keeps the ROI centre (crop x = INPUT / 2) in place, so the
# mirror of a crop is exactly the crop of the mirrored image and a mirrored photo gives the
# mirrored skeleton
_MIRROR = np.array([[-1.0, 0.0, float(INPUT)], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])


def _to_numpy(outs):
    """Convert the model's three output tensors to float numpy.

    Returns landmarks (N,39,5), flag (N,), world (N,39,3).
    """
    lm, flag, world = outs
    return (
        lm.float().reshape(-1, 39, 5).cpu().numpy(),
        flag.float().reshape(-1).cpu().numpy(),
        world.float().reshape(-1, 39, 3).cpu().numpy(),
    )


def auto_runtime(device: str) -> str:
    """Return what pose_runtime 'auto' runs on ``device``.

    onnxruntime on the CPU when the onnx exporter is installed, torch otherwise; openvino only
    when asked for (see the module docstring).
    """
    return 'onnxruntime' if device == 'cpu' and _has_onnx() else 'torch'


def auto_precision(device: str, runtime: str) -> str:
    """Return what pose_precision 'auto' means: bf16 where it can run, fp32 elsewhere.

    bf16 needs the CPU (``device`` 'cpu'), a runtime that may be OpenVINO ('auto' or 'openvino'),
    the openvino package and a CPU with bf16 units. Everywhere else (CUDA, onnxruntime or torch
    chosen, no openvino, an older CPU) the pose model runs fp32, so 'auto' never fails at start-up.
    """
    if device == 'cpu' and runtime in ('auto', 'openvino') and cpu_has_bf16():
        return 'bf16'
    return 'fp32'


def _has_openvino() -> bool:
    try:
        import openvino  # noqa: F401

        return True
    except ImportError:
        return False


def cpu_has_bf16() -> bool:
    """Whether OpenVINO (installed) reports bfloat16 units on this CPU (pose_precision bf16)."""
    try:
        import openvino as ov
    except ImportError:
        return False
    return 'BF16' in ov.Core().get_property('CPU', 'OPTIMIZATION_CAPABILITIES')


def _has_onnx() -> bool:
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401

        return True
    except ImportError:
        return False
