"""Keypoint-anchored colour descriptor: HSV histograms of body parts located from the pose.

Four regions: torso (quadrilateral shoulders-hips), arms (shoulder-elbow-wrist segments), thighs
(hip-knee) and shins (knee-ankle). Each region is sampled on a fixed grid of points (inside the
torso quad; along and across each limb segment, with a half-width proportional to the torso size)
so the descriptor covers the clothes, not the background around a diagonal limb. A region whose
keypoints score below ``keypoint_threshold`` falls back to a fixed sub-rectangle of the person box
(torso: rows 20-50 %, arms: rows 20-55 % full width, thighs: 50-75 %, shins: 75-97 %).

Per region: a 2-D hue x saturation histogram (16 x 4 bins) of the coloured samples plus an 8-bin
value histogram of the grey ones (saturation or value low: black/white/grey clothes), L1-normalised
and square-rooted, so the cosine of two region vectors is their Bhattacharyya coefficient. The four
region vectors are weighted (torso 0.4, thighs 0.25, shins 0.15, arms 0.2) and concatenated; output
is L2 normalised (dim 4 x 72 = 288).
"""

from __future__ import annotations

from typing import Optional

import cv2
import numpy as np

from ...coco import KEYPOINT_SCORE_VISIBLE
from .base import Embedder, l2_normalize

H_BINS, S_BINS, V_BINS = 16, 4, 8
REGION_DIM = H_BINS * S_BINS + V_BINS
REGIONS = ('torso', 'arms', 'thighs', 'shins')
REGION_WEIGHTS = np.array([0.4, 0.2, 0.25, 0.15], np.float32)
# limb segments (COCO indices) per region
_SEGMENTS = {
    'arms': ((5, 7), (7, 9), (6, 8), (8, 10)),
    'thighs': ((11, 13), (12, 14)),
    'shins': ((13, 15), (14, 16)),
}
# box fallback: (row from, row to, col from, col to) as fractions of the box
_FALLBACK = {
    'torso': (0.20, 0.50, 0.25, 0.75),
    'arms': (0.20, 0.55, 0.0, 1.0),
    'thighs': (0.50, 0.75, 0.2, 0.8),
    'shins': (0.75, 0.97, 0.2, 0.8),
}
_MIN_SAT, _MIN_VAL = 50, 40


def _grid(n: int) -> np.ndarray:
    return (np.arange(n) + 0.5) / n


class ColorEmbedder(Embedder):
    name = 'color'
    dim = len(REGIONS) * REGION_DIM

    def __init__(self, keypoint_threshold: float = KEYPOINT_SCORE_VISIBLE, samples: int = 16):
        self.keypoint_threshold = float(keypoint_threshold)
        self.samples = int(samples)  # grid points per side / along a segment
        g = _grid(self.samples)
        # (S*S, 2) in (0, 1)
        self._uv = np.stack(np.meshgrid(g, g, indexing='ij'), -1).reshape(-1, 2)
        self._along = np.linspace(0.1, 0.9, self.samples)
        self._across = np.linspace(-1.0, 1.0, 5)

    # ---------------------------------------------------------------- sampling points
    def _rect_points(self, box, frac) -> np.ndarray:
        x1, y1, x2, y2 = box
        r0, r1, c0, c1 = frac
        w, h = x2 - x1, y2 - y1
        u = c0 + (c1 - c0) * self._uv[:, 1]
        v = r0 + (r1 - r0) * self._uv[:, 0]
        return np.stack([x1 + u * w, y1 + v * h], 1)

    def _region_points(self, region: str, box, kp, ok) -> np.ndarray:
        """(P, 2) sample points (x, y) for one region, from keypoints when they are reliable."""
        if ok is not None:
            shoulders_hips = [5, 6, 11, 12]
            if region == 'torso':
                if ok[shoulders_hips].all():
                    ls, rs, lh, rh = kp[5], kp[6], kp[11], kp[12]
                    u = 0.15 + 0.7 * self._uv[:, 1:2]  # across (left -> right), inset 15 %
                    v = 0.1 + 0.8 * self._uv[:, 0:1]  # down (shoulders -> hips)
                    top = ls + (rs - ls) * u
                    bottom = lh + (rh - lh) * u
                    return top + (bottom - top) * v
            else:
                segs = [(a, b) for a, b in _SEGMENTS[region] if ok[a] and ok[b]]
                if segs:
                    ref = kp[shoulders_hips][ok[shoulders_hips]]
                    scale = (np.ptp(ref[:, 1]) if len(ref) >= 2 else 0.0) or 0.25 * (
                        box[3] - box[1]
                    )
                    half = max(0.08 * scale, 1.0)  # limb half-width ~ 8 % of the torso height
                    pts = []
                    for a, b in segs:
                        pa, pb = kp[a], kp[b]
                        d = pb - pa
                        n = np.array([-d[1], d[0]]) / max(np.hypot(*d), 1e-6)
                        along = pa + d * self._along[:, None]  # (S, 2)
                        pts.append(
                            (along[:, None, :] + self._across[None, :, None] * half * n).reshape(
                                -1, 2
                            )
                        )
                    return np.concatenate(pts)
        return self._rect_points(box, _FALLBACK[region])

    # ---------------------------------------------------------------- histograms
    @staticmethod
    def _histogram(hsv: np.ndarray, pts: np.ndarray) -> np.ndarray:
        H, W = hsv.shape[:2]
        x = np.clip(np.rint(pts[:, 0]).astype(np.int64), 0, W - 1)
        y = np.clip(np.rint(pts[:, 1]).astype(np.int64), 0, H - 1)
        px = hsv[y, x].astype(np.int64)  # (P, 3), OpenCV H in [0, 180)
        h, s, v = px[:, 0], px[:, 1], px[:, 2]
        colored = (s >= _MIN_SAT) & (v >= _MIN_VAL)
        idx = np.where(
            colored,
            (h * H_BINS // 180) * S_BINS + (s * S_BINS // 256),
            H_BINS * S_BINS + v * V_BINS // 256,
        )
        hist = np.bincount(idx, minlength=REGION_DIM).astype(np.float32)
        return np.sqrt(hist / max(hist.sum(), 1.0))

    def embed(
        self,
        image_bgr: np.ndarray,
        boxes: np.ndarray,
        keypoints: Optional[np.ndarray] = None,
        keypoint_scores: Optional[np.ndarray] = None,
    ) -> np.ndarray:
        boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
        n = len(boxes)
        if n == 0:
            return np.zeros((0, self.dim), np.float32)
        # convert only the union of the boxes to HSV
        H, W = image_bgr.shape[:2]
        x0 = int(np.clip(np.floor(boxes[:, 0].min()), 0, W - 1))
        y0 = int(np.clip(np.floor(boxes[:, 1].min()), 0, H - 1))
        x1 = int(np.clip(np.ceil(boxes[:, 2].max()), x0 + 1, W))
        y1 = int(np.clip(np.ceil(boxes[:, 3].max()), y0 + 1, H))
        hsv = cv2.cvtColor(np.ascontiguousarray(image_bgr[y0:y1, x0:x1]), cv2.COLOR_BGR2HSV)
        off = np.array([x0, y0], np.float64)
        kps = None if keypoints is None else np.asarray(keypoints, np.float64).reshape(n, 17, 2)
        ks = None
        if kps is not None:
            ks = (
                np.ones((n, 17), np.float32)
                if keypoint_scores is None
                else np.asarray(keypoint_scores, np.float32).reshape(n, 17)
            )
        out = np.zeros((n, self.dim), np.float32)
        for i in range(n):
            ok = None
            if kps is not None:
                ok = (ks[i] >= self.keypoint_threshold) & np.isfinite(kps[i]).all(1)
            for r, region in enumerate(REGIONS):
                pts = self._region_points(
                    region, boxes[i], kps[i] if kps is not None else None, ok
                )
                out[i, r * REGION_DIM : (r + 1) * REGION_DIM] = REGION_WEIGHTS[
                    r
                ] * self._histogram(hsv, pts - off)
        return l2_normalize(out)
