"""Tracking metrics for MOT rows.

CLEAR-MOT and identity metrics via motmetrics (MOTA, IDF1, ID switches, FP, FN, MOTP; the
MOTChallenge 2D definitions: IoU >= 0.5 match), HOTA / DetA / AssA / LocA via our own
:mod:`poseflow_ros.eval.hota` (TrackEval's algorithm; checked against TrackEval in the benchmark
venv).

motmetrics 1.4.0 calls ``np.asfarray``, removed in numpy 2; it is patched back before the import.
"""

from __future__ import annotations

from typing import Dict

import numpy as np

from .hota import hota_from_frames
from .mot_io import N_COLS, by_frame, evaluated_gt

if not hasattr(np, 'asfarray'):  # numpy >= 2 (motmetrics 1.4.0 still calls it)
    np.asfarray = lambda a, dtype=np.float64: np.asarray(a, dtype=dtype)  # noqa: E731

IOU_THRESHOLD = 0.5


def _mm():
    import motmetrics  # imported lazily: pandas is slow to import and only the harness needs it

    return motmetrics


def accumulate(gt_rows: np.ndarray, res_rows: np.ndarray, n_frames: int = 0):
    """Build a motmetrics ``MOTAccumulator`` over frames 1..N.

    IoU distance; a pair matches if IoU >= 0.5.
    """
    return _accumulate(by_frame(gt_rows, n_frames), by_frame(res_rows, n_frames))


def _accumulate(g: Dict[int, np.ndarray], r: Dict[int, np.ndarray]):
    """Run :func:`accumulate` on rows already split by frame.

    The split is :func:`poseflow_ros.eval.mot_io.by_frame`'s.
    """
    mm = _mm()
    acc = mm.MOTAccumulator(auto_id=False)
    for f in sorted(set(g) | set(r)):
        gf, rf = g.get(f, np.zeros((0, N_COLS))), r.get(f, np.zeros((0, N_COLS)))
        if not len(gf) and not len(rf):
            continue
        d = mm.distances.iou_matrix(gf[:, 2:6], rf[:, 2:6], max_iou=1.0 - IOU_THRESHOLD)
        acc.update(
            gf[:, 1].astype(np.int64).tolist(), rf[:, 1].astype(np.int64).tolist(), d, frameid=f
        )
    return acc


def evaluate(
    gt_rows: np.ndarray, res_rows: np.ndarray, n_frames: int = 0, filter_gt: bool = True
) -> Dict[str, float]:
    """All metrics of one sequence.

    MOTA, IDF1, HOTA, DetA, AssA, LocA, MOTP in percent; IDsw, FP, FN, GT (boxes), IDs (distinct
    tracker ids) as counts. ``filter_gt`` keeps only the gt rows MOTChallenge evaluates
    (:func:`poseflow_ros.eval.mot_io.evaluated_gt`).
    """
    gt = (
        evaluated_gt(gt_rows) if filter_gt else np.asarray(gt_rows, np.float64).reshape(-1, N_COLS)
    )
    res = np.asarray(res_rows, np.float64).reshape(-1, N_COLS)
    mm = _mm()
    g = by_frame(gt, n_frames)
    r = by_frame(res, n_frames)
    acc = _accumulate(g, r)
    s = mm.metrics.create().compute(
        acc,
        metrics=[
            'mota',
            'motp',
            'idf1',
            'num_switches',
            'num_false_positives',
            'num_misses',
            'num_objects',
        ],
        name='seq',
    )
    frames = sorted(set(g) | set(r))
    h = hota_from_frames(
        [g.get(f, np.zeros((0, N_COLS))) for f in frames],
        [r.get(f, np.zeros((0, N_COLS))) for f in frames],
    )
    motp = float(s['motp'].iloc[0])
    return {
        'MOTA': 100.0 * float(s['mota'].iloc[0]),
        'IDF1': 100.0 * float(s['idf1'].iloc[0]),
        'HOTA': 100.0 * h['HOTA'],
        'DetA': 100.0 * h['DetA'],
        'AssA': 100.0 * h['AssA'],
        'LocA': 100.0 * h['LocA'],
        'MOTP': 100.0 * (1.0 - motp) if np.isfinite(motp) else float('nan'),  # mean IoU of matches
        'IDsw': int(s['num_switches'].iloc[0]),
        'FP': int(s['num_false_positives'].iloc[0]),
        'FN': int(s['num_misses'].iloc[0]),
        'GT': int(s['num_objects'].iloc[0]),
        'IDs': int(len(np.unique(res[:, 1]))) if len(res) else 0,
    }
