"""HOTA (Luiten et al., IJCV 2021): our own numpy-only implementation of TrackEval's algorithm.

TrackEval is MIT-licensed.

For each frame, ``sim`` = IoU of every gt box with every tracker box. Then

1. global alignment ``A(g, t) = sum_f simIoU_f(g, t) / (n_g + n_t - sum_f simIoU_f(g, t))`` where
   ``simIoU_f = S / (rowsum S + colsum S - S)`` (a soft count of how often g and t co-occur),
   ``n_g`` / ``n_t`` the number of frames with gt id ``g`` / tracker id ``t``;
2. per frame, one Hungarian matching maximising ``A(g, t) * sim(g, t)``;
3. for each ``alpha`` in 0.05, 0.10, ..., 0.95: matched pairs with ``sim >= alpha`` are TPs, the
   other gt boxes FNs, the other tracker boxes FPs; ``DetA = TP / (TP + FN + FP)``; with
   ``M(g, t)`` the TP count of a pair, ``AssA = sum_TP M / (n_g + n_t - M) / TP``;
   ``HOTA = sqrt(DetA AssA)``; ``LocA`` = mean sim of the TPs;
4. each score is the mean over the 19 alphas.

Checked against TrackEval 1.3.0 (``trackeval.metrics.HOTA``) in the benchmark venv; see
``tools/bench_tracking.py --check-hota``.
"""

from __future__ import annotations

from typing import Dict, List, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..geometry import iou_matrix_xywh

ALPHAS = np.arange(0.05, 0.99, 0.05)
_EPS = np.finfo(float).eps


def hota(
    gt_ids: Sequence[np.ndarray], tr_ids: Sequence[np.ndarray], sims: Sequence[np.ndarray]
) -> Dict[str, object]:
    """Compute HOTA from per-frame gt ids, tracker ids and similarities.

    Per frame: gt ids ``(G_f,)``, tracker ids ``(T_f,)`` and similarities ``(G_f, T_f)``. Ids may
    be any integers. Returns ``HOTA, DetA, AssA, LocA, DetRe, DetPr, AssRe, AssPr`` (fractions,
    means over alphas) and the per-alpha arrays under ``'per_alpha'``.
    """
    gu = np.unique(
        np.concatenate([np.asarray(g, np.int64) for g in gt_ids] or [np.zeros(0, np.int64)])
    )
    tu = np.unique(
        np.concatenate([np.asarray(t, np.int64) for t in tr_ids] or [np.zeros(0, np.int64)])
    )
    gi = [np.searchsorted(gu, np.asarray(g, np.int64)) for g in gt_ids]
    ti = [np.searchsorted(tu, np.asarray(t, np.int64)) for t in tr_ids]
    nA = len(ALPHAS)
    z = np.zeros(nA)
    if len(gu) == 0 or len(tu) == 0:
        n_gt = sum(len(g) for g in gi)
        n_tr = sum(len(t) for t in ti)
        zero = {
            k: 0.0 for k in ('HOTA', 'DetA', 'AssA', 'LocA', 'DetRe', 'DetPr', 'AssRe', 'AssPr')
        }
        if n_gt == 0 and n_tr == 0:
            zero.update(HOTA=1.0, DetA=1.0, AssA=1.0, LocA=1.0)
        zero['per_alpha'] = {'HOTA': z, 'DetA': z, 'AssA': z}
        return zero
    pot = np.zeros((len(gu), len(tu)))
    g_cnt = np.zeros((len(gu), 1))
    t_cnt = np.zeros((1, len(tu)))
    for g, t, s in zip(gi, ti, sims):
        if len(g) and len(t):
            s = np.asarray(s, np.float64)
            den = s.sum(0)[None] + s.sum(1)[:, None] - s
            siou = np.zeros_like(s)
            m = den > _EPS
            siou[m] = s[m] / den[m]
            pot[g[:, None], t[None]] += siou
        g_cnt[g] += 1
        t_cnt[0, t] += 1
    align = pot / (g_cnt + t_cnt - pot)
    tp, fn, fp, loc = z.copy(), z.copy(), z.copy(), z.copy()
    counts = np.zeros((nA, len(gu), len(tu)))
    for g, t, s in zip(gi, ti, sims):
        if len(g) == 0 or len(t) == 0:
            fp += len(t)
            fn += len(g)
            continue
        s = np.asarray(s, np.float64)
        r, c = linear_sum_assignment(-(align[g[:, None], t[None]] * s))
        ms = s[r, c]
        for a, alpha in enumerate(ALPHAS):
            ok = ms >= alpha - _EPS
            k = int(ok.sum())
            tp[a] += k
            fn[a] += len(g) - k
            fp[a] += len(t) - k
            if k:
                loc[a] += ms[ok].sum()
                counts[a, g[r[ok]], t[c[ok]]] += 1
    ass_a, ass_re, ass_pr = z.copy(), z.copy(), z.copy()
    for a in range(nA):
        M = counts[a]
        d = max(1.0, tp[a])
        ass_a[a] = (M * (M / np.maximum(1, g_cnt + t_cnt - M))).sum() / d
        ass_re[a] = (M * (M / np.maximum(1, g_cnt))).sum() / d
        ass_pr[a] = (M * (M / np.maximum(1, t_cnt))).sum() / d
    det_a = tp / np.maximum(1, tp + fn + fp)
    det_re = tp / np.maximum(1, tp + fn)
    det_pr = tp / np.maximum(1, tp + fp)
    loc_a = np.maximum(1e-10, loc) / np.maximum(1e-10, tp)
    h = np.sqrt(det_a * ass_a)
    res = {
        'HOTA': h,
        'DetA': det_a,
        'AssA': ass_a,
        'LocA': loc_a,
        'DetRe': det_re,
        'DetPr': det_pr,
        'AssRe': ass_re,
        'AssPr': ass_pr,
    }
    out: Dict[str, object] = {k: float(np.mean(v)) for k, v in res.items()}
    out['per_alpha'] = {k: res[k] for k in ('HOTA', 'DetA', 'AssA')}
    return out


def hota_from_frames(
    gt_frames: List[np.ndarray], tr_frames: List[np.ndarray]
) -> Dict[str, object]:
    """Compute HOTA from per-frame MOT rows of gt and tracker (aligned lists).

    Rows: ``[:, 1]`` id, ``[:, 2:6]`` x y w h.
    """
    g = [np.asarray(f)[:, 1].astype(np.int64) for f in gt_frames]
    t = [np.asarray(f)[:, 1].astype(np.int64) for f in tr_frames]
    s = [
        iou_matrix_xywh(np.asarray(a)[:, 2:6], np.asarray(b)[:, 2:6])
        for a, b in zip(gt_frames, tr_frames)
    ]
    return hota(g, t, s)
