"""Seeded noisy person detections from MOT ground truth (tracker benchmark setting "B").

For every frame of the sequence, independently (``numpy.random.default_rng(seed)``):

- **drop**: each ground-truth box is removed with probability ``drop_rate`` (default 0.15);
- **jitter**: each kept box gets Gaussian noise relative to its own size: centre
  ``x += N(0, j w)``, ``y += N(0, j h)``, ``w *= 1 + N(0, j)``, ``h *= 1 + N(0, j)`` with
  ``j = jitter`` (default 0.05);
- **score** of a true box: ``clip(N(score_mean, score_std), 0.01, 1)`` (defaults 0.75, 0.15), so
  about 5 % of the true boxes score below 0.5, the tracker's default high threshold
  (ByteTrack-style low-score association can still use them; 0.3 % fall below 0.3);
- **false positives**: ``Poisson(fp_rate)`` per frame (default 0.3) extra boxes, with the size of a
  random ground-truth box of the sequence (same jitter on the size) placed uniformly inside the
  image; score ``U(fp_score_low, fp_score_high)`` (defaults 0.1, 0.7);
- the ids are removed and the boxes of a frame are **shuffled** (ground truth is sorted by id, the
  order must not leak identity).

Output per frame: ``boxes (N, 4) float32 x1 y1 x2 y2`` and ``scores (N,) float32``, plus (for
checks) a boolean ``is_true (N,)``. The same seed always gives the same detections.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ..geometry import xywh_to_xyxy
from .mot_io import N_COLS, by_frame


@dataclass
class NoiseConfig:
    jitter: float = 0.05
    drop_rate: float = 0.15
    fp_rate: float = 0.3
    score_mean: float = 0.75
    score_std: float = 0.15
    fp_score_low: float = 0.1
    fp_score_high: float = 0.7
    image_width: int = 640
    image_height: int = 480


@dataclass
class FrameDetections:
    boxes: np.ndarray  # (N, 4) float32 xyxy
    scores: np.ndarray  # (N,) float32
    is_true: np.ndarray  # (N,) bool: from a ground-truth box (not a false positive)

    def __len__(self):
        return len(self.scores)


def noisy_detections(
    gt_rows: np.ndarray, seed: int, n_frames: int = 0, cfg: NoiseConfig = NoiseConfig()
) -> List[FrameDetections]:
    """Return detections for frames 1..max(n_frames, last gt frame) (list index 0 = frame 1)."""
    rng = np.random.default_rng(seed)
    gt = np.asarray(gt_rows, np.float64).reshape(-1, N_COLS)
    sizes = gt[:, 4:6] if len(gt) else np.array([[40.0, 100.0]])
    W, H = float(cfg.image_width), float(cfg.image_height)
    out = []
    for _, rows in sorted(by_frame(gt, n_frames).items()):
        n = len(rows)
        keep = rng.random(n) >= cfg.drop_rate
        wh = rows[keep, 4:6]
        c = rows[keep, 2:4] + 0.5 * wh
        c = c + rng.normal(0.0, 1.0, c.shape) * cfg.jitter * wh
        wh = wh * np.maximum(1.0 + rng.normal(0.0, cfg.jitter, wh.shape), 0.2)
        sc = np.clip(rng.normal(cfg.score_mean, cfg.score_std, len(wh)), 0.01, 1.0)
        n_fp = int(rng.poisson(cfg.fp_rate))
        fwh = sizes[rng.integers(len(sizes), size=n_fp)] * np.maximum(
            1.0 + rng.normal(0.0, cfg.jitter, (n_fp, 2)), 0.2
        )
        fx1 = rng.uniform(0.0, 1.0, (n_fp, 2)) * np.maximum(np.array([W, H]) - fwh, 1.0)
        fsc = rng.uniform(cfg.fp_score_low, cfg.fp_score_high, n_fp)
        boxes = np.concatenate(
            [np.concatenate([c - 0.5 * wh, c + 0.5 * wh], 1), np.concatenate([fx1, fx1 + fwh], 1)]
        )
        scores = np.concatenate([sc, fsc])
        is_true = np.concatenate([np.ones(len(sc), bool), np.zeros(n_fp, bool)])
        perm = rng.permutation(len(scores))
        out.append(
            FrameDetections(
                boxes[perm].astype(np.float32), scores[perm].astype(np.float32), is_true[perm]
            )
        )
    return out


def detections_from_results(
    rows: np.ndarray, n_frames: int = 0, score: float = 1.0
) -> List[FrameDetections]:
    """Build setting "A": the boxes of a tracker's MOT result file with the ids removed.

    The boxes are shuffled per frame with a fixed seed. Result files carry no usable score (conf =
    -1), so every box gets ``score``.
    """
    rng = np.random.default_rng(0)
    out = []
    for _, r in sorted(by_frame(rows, n_frames).items()):
        b = xywh_to_xyxy(r[:, 2:6])
        perm = rng.permutation(len(b))
        out.append(
            FrameDetections(
                b[perm].astype(np.float32),
                np.full(len(b), score, np.float32),
                np.ones(len(b), bool),
            )
        )
    return out


def stack(frames: List[FrameDetections]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stack per-frame detections into ``(frame index (M,), boxes (M, 4), scores (M,))``.

    E.g. for an npz.
    """
    fi = np.concatenate(
        [np.full(len(f), i + 1) for i, f in enumerate(frames)] or [np.zeros(0)]
    ).astype(np.int64)
    b = np.concatenate([f.boxes for f in frames] or [np.zeros((0, 4), np.float32)])
    s = np.concatenate([f.scores for f in frames] or [np.zeros(0, np.float32)])
    return fi, b, s
