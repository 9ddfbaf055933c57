"""Run any tracker over per-frame detections and collect MOT rows + timing.

A *tracker step* is a callable ``step(boxes (N, 4) xyxy float32, scores (N,) float32) -> (ids (K,),
boxes (K, 4) xyxy)``, called once per frame in order (also for frames without detections). Our
:class:`poseflow_ros.track.Tracker` is adapted by :func:`ours_step`.
"""

from __future__ import annotations

import time
from typing import Callable, List, Optional, Sequence, Tuple

import numpy as np

from .mot_io import N_COLS, make_rows
from .noise import FrameDetections

Step = Callable[[np.ndarray, np.ndarray], Tuple[np.ndarray, np.ndarray]]


def run_tracker(step: Step, frames: Sequence[FrameDetections]) -> Tuple[np.ndarray, float]:
    """Feed frames 1..N to ``step``.

    Returns MOT rows ``(M, 10)`` and the mean wall time per frame (ms) of the ``step`` calls alone.
    """
    rows: List[np.ndarray] = []
    total = 0.0
    for i, f in enumerate(frames):
        t0 = time.perf_counter()
        ids, boxes = step(f.boxes, f.scores)
        total += time.perf_counter() - t0
        if len(ids):
            rows.append(make_rows(i + 1, ids, boxes))
    out = np.concatenate(rows) if rows else np.zeros((0, N_COLS))
    return out, 1e3 * total / max(1, len(frames))


def ours_step(config=None, tracker: Optional[object] = None) -> Step:
    """Step for our tracker (boxes only; reports what the tracker reports with this config)."""
    from ..track import Tracker, TrackerConfig
    from ..types import TrackerInput

    tr = (
        tracker
        if tracker is not None
        else Tracker(config if config is not None else TrackerConfig())
    )

    def step(boxes, scores):
        return outputs_to_arrays(tr.update(TrackerInput(boxes, scores)))

    return step


def outputs_to_arrays(outs) -> Tuple[np.ndarray, np.ndarray]:
    """Turn a frame's tracker outputs into a step's result: ids ``(K,)`` int64, boxes ``(K, 4)``.

    ``outs`` is the list of :class:`poseflow_ros.types.TrackOutput` that ``Tracker.update``
    returns; an empty list gives empty arrays.
    """
    if not outs:
        return np.zeros(0, np.int64), np.zeros((0, 4))
    return (
        np.fromiter((o.track_id for o in outs), np.int64, len(outs)),
        np.stack([o.box for o in outs]),
    )
