"""Host-side pre- and post-processing shared by the RTMDet runtimes (onnxruntime, torch).

The model is RTMDet-nano person (OpenMMLab, Apache-2.0), exported to ONNX by mmdeploy ("end2end":
the network followed by box decoding and NMS, outputs ``dets`` (B, K, 5) = x1, y1, x2, y2, score in
the network-input frame and ``labels`` (B, K)). Pre-processing follows the model's
``pipeline.json``: keep-ratio resize into 320 x 320, pad bottom/right with 114, normalise BGR with
its mean/std.

Input size: the exported graph has dynamic height/width axes, and its box decoding builds the point
priors from the feature-map shapes (Shape -> Range -> Expand), so the same ONNX runs unchanged at
any input whose sides are multiples of 32 (the largest stride; other sizes fail in the neck's
Concat). ``input_size`` sets the long side of the letterbox; ``canvas='fit'`` pads only the short
side up to the next multiple of 32 (a 16:9 frame at 1280 runs 1280 x 736 instead of 1280 x 1280:
same boxes where the image is, less work), ``'square'`` pads to input_size x input_size as the
model was exported.
"""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np

from .. import models
from ..types import Detections
from .base import DEFAULT_MAX_DETECTIONS, DEFAULT_SCORE_THRESHOLD, PersonDetector

# the model's name in poseflow_ros.models (the file the detector loads when no model_path is given)
MODEL = 'rtmdet_nano_person'

# Defaults equal the shipped pipeline.json (read from it when it sits beside the model).
_DEFAULT_PRE = {
    'size': (320, 320),
    'pad_val': 114.0,
    'mean': (103.53, 116.28, 123.675),
    'std': (57.375, 57.12, 58.395),
    'to_rgb': False,
}


def _read_pipeline(path: Path) -> dict:
    """Read the pre-processing (input size, pad value, mean/std, channel order): pipeline.json."""
    pre = dict(_DEFAULT_PRE)
    if not path.is_file():
        return pre
    tasks = json.loads(path.read_text())['pipeline']['tasks']
    for t in tasks:
        for tr in t.get('transforms', []):
            if tr['type'] == 'Resize':
                pre['size'] = tuple(tr['size'])
            elif tr['type'] == 'Pad' and 'pad_val' in tr:
                pre['pad_val'] = float(tr['pad_val']['img'][0])
            elif tr['type'] == 'Normalize':
                pre.update(mean=tuple(tr['mean']), std=tuple(tr['std']), to_rgb=bool(tr['to_rgb']))
    return pre


def resolve_model_path(model_path: str = '', models_dir: str = '') -> Path:
    """Return the detector ONNX.

    ``model_path`` when given (must exist), else RTMDet-nano person from the models dir.
    """
    if model_path:
        path = Path(model_path).expanduser()
        if not path.is_file():
            raise models.ModelError(f'detector model not found: {path} (parameter detector_model)')
        return path
    return models.model_path(MODEL, models_dir)


CANVASES = ('square', 'fit')
STRIDE = 32  # the largest feature stride: both input sides must be multiples of it


def _ceil_to(x: int, m: int) -> int:
    return max(m, -(-int(x) // m) * m)


class RTMDetBase(PersonDetector):
    """Host-side pre- and post-processing shared by the RTMDet runtimes (onnxruntime, torch).

    Subclasses set ``runtime`` and ``device``, run the network on :meth:`preprocess`'s output, get
    ``dets`` (K, 5) in the network-input frame and ``labels`` (K,) as the end2end graph returns
    them, and finish with :meth:`to_detections`. ``model`` is ``'rtmdet_nano_person'`` (the
    registry's model) or, for a ``model_path`` given, ``'rtmdet(<file name>)'``.
    """

    def __init__(
        self,
        model_path: str = '',
        models_dir: str = '',
        score_threshold: float = DEFAULT_SCORE_THRESHOLD,
        min_box_size: float = 8.0,
        max_detections: int = DEFAULT_MAX_DETECTIONS,
        input_size: int = 0,
        canvas: str = 'square',
    ):
        """Read the model's pre-processing and check the settings every runtime shares.

        ``model_path``: an ONNX file ('' = the registry's model, found in ``models_dir`` or the
        default models folder); ``score_threshold``: the lowest score kept; ``min_box_size``:
        boxes with a side shorter than this (pixels, after clipping) are dropped;
        ``max_detections``: most boxes kept per frame (highest scores); ``input_size``: long side
        of the network input, a multiple of 32 (0 = the exported size); ``canvas``: 'square' or
        'fit' (see the module docstring). The runtimes take these as keywords and pass them on.
        """
        path = resolve_model_path(model_path, models_dir)
        self.model_path = path
        self.model = f'rtmdet({path.name})' if model_path else MODEL
        self.pre = _read_pipeline(path.parent / 'pipeline.json')
        self.score_threshold = float(score_threshold)
        self.min_box_size = float(min_box_size)
        self.max_detections = int(max_detections)
        if canvas not in CANVASES:
            raise ValueError(
                f"detector canvas must be one of {', '.join(map(repr, CANVASES))}, got {canvas!r}"
            )
        input_size = int(input_size)
        if input_size:  # long side of the letterbox; 0 = the exported size (pipeline.json)
            if input_size < STRIDE or input_size % STRIDE:
                raise ValueError(
                    f'detector input_size must be a positive multiple of {STRIDE} '
                    f'(the network stride), got {input_size}'
                )
            self.pre['size'] = (input_size, input_size)
        self.input_size = max(self.pre['size'])
        self.canvas = canvas
        self._canvases = {}  # (w, h) -> float32 HxWx3 letterbox buffer
        self._mean = np.asarray(self.pre['mean'], np.float32)
        self._inv_std = 1.0 / np.asarray(self.pre['std'], np.float32)

    def canvas_size(self, image_shape):
        """(w, h) of the network input for an image of ``image_shape``.

        The exported/configured size ('square'), or the keep-ratio resized image padded up to
        multiples of 32 ('fit').
        """
        if self.canvas == 'square':
            return tuple(self.pre['size'])
        nw, nh = self.resized_size(image_shape)
        return _ceil_to(nw, STRIDE), _ceil_to(nh, STRIDE)

    def preprocess(self, image_bgr: np.ndarray, out: np.ndarray = None):
        """Letterbox and normalise: return the (1,3,H,W) float32 input and the resize scale.

        The input is written into ``out`` when given.
        """
        ih, iw = image_bgr.shape[:2]
        w, h = self.canvas_size(image_bgr.shape)
        nw, nh = self.resized_size(image_bgr.shape)
        resized = cv2.resize(image_bgr, (nw, nh), interpolation=cv2.INTER_LINEAR)
        canvas = self._canvases.get((w, h))
        if canvas is None:
            canvas = self._canvases[(w, h)] = np.empty((h, w, 3), np.float32)
        canvas[...] = self.pre['pad_val']
        canvas[:nh, :nw] = resized
        if self.pre['to_rgb']:
            x = canvas[..., ::-1]
        else:
            x = canvas
        x = (x - self._mean) * self._inv_std
        if out is None:
            out = np.empty((1, 3, h, w), np.float32)
        np.copyto(out[0], x.transpose(2, 0, 1))
        return out, (nw / iw, nh / ih)

    def resized_size(self, image_shape):
        """(w, h) of the image after the keep-ratio resize into the network input."""
        ih, iw = image_shape[:2]
        w, h = self.pre['size']
        scale = min(w / iw, h / ih)  # the same for both canvases: 'fit' only pads less
        return max(1, int(round(iw * scale))), max(1, int(round(ih * scale)))

    def to_detections(
        self, dets: np.ndarray, labels: np.ndarray, scale, image_shape
    ) -> Detections:
        """Network-frame ``dets`` (K,5) + ``labels`` (K,) -> person boxes in image pixels.

        Score threshold, clip to the image, minimum size, at most max_detections, highest score
        first.
        """
        sx, sy = scale
        keep = (dets[:, 4] >= self.score_threshold) & (labels == 0)
        dets = dets[keep]
        if not len(dets):
            return Detections.empty()
        boxes = dets[:, :4].copy()
        boxes[:, [0, 2]] /= sx
        boxes[:, [1, 3]] /= sy
        ih, iw = image_shape[:2]
        boxes[:, [0, 2]] = np.clip(boxes[:, [0, 2]], 0, iw)
        boxes[:, [1, 3]] = np.clip(boxes[:, [1, 3]], 0, ih)
        wh = boxes[:, 2:] - boxes[:, :2]
        keep = (wh >= self.min_box_size).all(1)
        boxes, scores = boxes[keep], dets[keep, 4]
        order = np.argsort(-scores)[: self.max_detections]
        return Detections(boxes[order], scores[order])
