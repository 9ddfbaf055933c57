"""BlazePose landmarks refined from the model's heatmap, as MediaPipe decodes them.

Besides its regressed landmarks, the BlazePose landmark model outputs a 64 x 64 heatmap per
landmark (``Identity_3``, logits). MediaPipe's pose graph
(``tensors_to_pose_landmarks_and_segmentation.pbtxt``: ``RefineLandmarksFromHeatmapCalculator``,
kernel_size 7, min_confidence_to_refine 0.5) replaces each landmark's x, y by the
confidence-weighted mean position of the heatmap cells in a kernel x kernel window around the
regressed point, wherever the window's highest confidence (sigmoid) reaches the threshold; all 39
landmarks, so the alignment landmarks 33/34 that place the next crop are refined too.
:class:`HeatmapRefined` does the same as torch operations inside the model, so the refinement is
part of the ONNX export and of CUDA graphs and the heatmap never leaves the device.

Conventions follow MediaPipe's code exactly: a landmark at normalised x falls in column
``trunc(x W)`` and the refined x is ``(sum of col x confidence) / sum / W`` (column index, not cell
centre; moving it to the cell centre, + 0.5 cell, lowered COCO AP); the window shrinks at the
heatmap's edge, and a landmark outside the heatmap is left as regressed (MediaPipe's row test
compares the column, a typo; here the row is tested, so a point below the crop is not pulled into
it).
"""

from __future__ import annotations

import torch
from torch import nn

KERNEL = 7  # MediaPipe's kernel_size for the pose landmark models
# RefineLandmarksFromHeatmapCalculatorOptions.min_confidence_to_refine default
MIN_CONFIDENCE = 0.5


def refine_landmarks(
    landmarks: torch.Tensor,
    heatmap: torch.Tensor,
    input_size: int = 256,
    kernel: int = KERNEL,
    min_confidence: float = MIN_CONFIDENCE,
) -> torch.Tensor:
    """Refine landmarks (N,K,>=2, crop pixels) from heatmap logits (N,K,H,W).

    Returns the landmarks with x, y refined; other columns (z, visibility, presence) are kept.
    ``kernel`` <= 0 returns the input unchanged.
    """
    if kernel <= 0:
        return landmarks
    n, k, h, w = heatmap.shape
    lm = landmarks.float()
    x = lm[..., 0] * (w / input_size)  # heatmap columns
    y = lm[..., 1] * (h / input_size)
    # C++ int() truncates towards zero: (-1, 0) -> 0 (inside), <= -1 -> negative (outside)
    inside = (x > -1.0) & (x < w) & (y > -1.0) & (y < h)
    cc = torch.floor(x).clamp(0, w - 1)
    cr = torch.floor(y).clamp(0, h - 1)
    off = torch.arange(kernel, device=heatmap.device, dtype=torch.float32) - (kernel - 1) // 2
    cols = cc[..., None] + off  # (N,K,kernel)
    rows = cr[..., None] + off
    col_ok = (cols >= 0) & (cols < w)
    row_ok = (rows >= 0) & (rows < h)
    idx = rows.clamp(0, h - 1)[..., :, None] * w + cols.clamp(0, w - 1)[..., None, :]
    vals = torch.gather(heatmap.reshape(n, k, h * w).float(), 2, idx.reshape(n, k, -1).long())
    ok = (row_ok[..., :, None] & col_ok[..., None, :]).reshape(n, k, -1)
    conf = torch.sigmoid(vals) * ok  # zero outside the heatmap, as the shrunk window
    total = conf.sum(-1)
    grid_c = cols[..., None, :].expand(-1, -1, kernel, -1).reshape(n, k, -1)
    grid_r = rows[..., :, None].expand(-1, -1, -1, kernel).reshape(n, k, -1)
    safe = total.clamp_min(1e-12)
    new_x = (conf * grid_c).sum(-1) / safe * (input_size / w)
    new_y = (conf * grid_r).sum(-1) / safe * (input_size / h)
    use = inside & (conf.amax(-1) >= min_confidence) & (total > 0)
    out = lm.clone()
    out[..., 0] = torch.where(use, new_x, lm[..., 0])
    out[..., 1] = torch.where(use, new_y, lm[..., 1])
    return out.to(landmarks.dtype)


class HeatmapRefined(nn.Module):
    """The BlazePose graph module with its landmarks refined from its heatmaps.

    ``graph`` outputs landmarks, flag, heatmap, world in that order; this module returns
    (landmarks refined from the heatmap (N, K*5), flag, world): the three outputs the port always
    returned, so callers, the ONNX export and CUDA graphs see the same interface.
    """

    def __init__(
        self,
        graph: nn.Module,
        num_landmarks: int = 39,
        input_size: int = 256,
        kernel: int = KERNEL,
        min_confidence: float = MIN_CONFIDENCE,
    ):
        super().__init__()
        self.graph = graph
        self.num_landmarks = int(num_landmarks)
        self.input_size = int(input_size)
        self.kernel = int(kernel)
        self.min_confidence = float(min_confidence)

    def forward(self, x):
        """Run (N,3,S,S) crops -> (landmarks (N, K*5), flag, world), refined when kernel > 0."""
        lm, flag, heat, world = self.graph(x)
        if self.kernel <= 0:
            return lm, flag, world
        n = lm.shape[0]
        k = self.num_landmarks
        heat = heat.reshape(n, k, heat.shape[-2], heat.shape[-1])
        ref = refine_landmarks(
            lm.reshape(n, k, -1), heat, self.input_size, self.kernel, self.min_confidence
        )
        return ref.reshape(lm.shape), flag, world
