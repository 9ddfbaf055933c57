"""Association costs and assignment, all vectorised over tracks x detections.

Cost matrices are ``(T, N)`` float64 (tracks in rows). ``np.nan`` marks "cue not available for this
pair" (no features / no pose), ``np.inf`` marks "never match" (gated).
"""

from __future__ import annotations

from typing import Optional, Sequence, Tuple

import numpy as np
from scipy.optimize import linear_sum_assignment

from ..coco import OKS_SIGMAS

# COCO OKS uses k_i = 2 sigma_i and exp(-d^2 / (2 s^2 k_i^2)).
_OKS_DENOM = 2.0 * (2.0 * OKS_SIGMAS.astype(np.float64)) ** 2  # (17,)
_EMPTY = np.zeros(0, np.intp)


def cosine_gallery_distance(
    gallery: np.ndarray, counts: np.ndarray, features: np.ndarray
) -> np.ndarray:
    """Smallest cosine distance of each detection feature to each track's gallery.

    gallery ``(T, B, D)`` L2-normalised (slots ``>= counts[t]`` unused), counts ``(T,)``, features
    ``(N, D)`` L2-normalised -> ``(T, N)`` in ``[0, 2]``, ``nan`` for tracks with no feature.
    """
    T, B, D = gallery.shape
    N = len(features)
    if T == 0 or N == 0:
        return np.zeros((T, N))
    sim = (gallery.reshape(T * B, D) @ np.asarray(features, gallery.dtype).T).reshape(T, B, N)
    if B > 1:
        unused = np.arange(B)[None, :] >= counts[:, None]  # (T, B)
        if unused.any():
            sim[unused] = -np.inf
        best = sim.max(axis=1)
    else:
        best = sim[:, 0]
    out = 1.0 - best.astype(np.float64)
    out[counts == 0] = np.nan
    return np.clip(out, 0.0, 2.0, out=out)


def move_keypoints(
    keypoints: np.ndarray, from_xyah: np.ndarray, to_xyah: np.ndarray
) -> np.ndarray:
    """Move poses ``(T, 17, 2)`` with their box.

    Translate by the centre motion, scale by the size change (the PoseFlow-style prediction of a
    track's pose from the Kalman box motion).
    """
    f = np.asarray(from_xyah, np.float64)
    t = np.asarray(to_xyah, np.float64)
    fw = np.maximum(f[:, 2] * f[:, 3], 1e-6)
    # (T, 2)
    scale = np.stack([t[:, 2] * t[:, 3] / fw, t[:, 3] / np.maximum(f[:, 3], 1e-6)], axis=1)
    return (keypoints - f[:, None, :2]) * scale[:, None, :] + t[:, None, :2]


def oks_pairs(
    track_kps: np.ndarray,
    track_vis: np.ndarray,
    track_area: np.ndarray,
    det_kps: np.ndarray,
    det_vis: np.ndarray,
    min_common: int = 3,
) -> np.ndarray:
    """Object keypoint similarity of pose pairs: ``track_kps[i]`` vs ``det_kps[i]`` -> ``(P,)``.

    ``*_vis`` are boolean ``(P, 17)`` masks of keypoints to use; the scale ``s^2`` is the track box
    area (``(P,)``). Pairs with fewer than ``min_common`` keypoints visible in both get ``nan``.
    Evaluated only on gated candidate pairs, so its cost grows with the pairs, not with T x N.
    """
    d2 = ((track_kps - det_kps) ** 2).sum(-1)  # (P, 17)
    x = d2 / (_OKS_DENOM * np.maximum(track_area, 1.0)[:, None])
    e = np.exp(-np.minimum(x, 50.0))  # clip: exp underflow to denormals is very slow
    both = track_vis & det_vis
    n = both.sum(-1)
    oks = (e * both).sum(-1) / np.maximum(n, 1)
    oks[n < min_common] = np.nan
    return oks


def pose_shape_oks(
    track_kps: np.ndarray,
    track_vis: np.ndarray,
    track_xyah: np.ndarray,
    det_kps: np.ndarray,
    det_vis: np.ndarray,
    det_h: np.ndarray,
    min_common: int = 3,
) -> np.ndarray:
    """OKS of pose pairs compared by shape alone.

    The track pose ``(P, 17, 2)``, measured with box ``track_xyah (P, 4)``, is scaled to the
    detection's box height ``det_h (P,)`` and moved so that the centroids of the keypoints visible
    in both coincide; the scale ``s^2`` is the track box's aspect times ``det_h^2``. Unlike
    :func:`oks_pairs` on the Kalman-moved pose, this does not decay with the prediction drift over
    a long gap: it tells whether the two poses look alike (a walking person still walks, a newcomer
    with arms raised does not). ``nan`` for pairs with fewer than ``min_common`` keypoints.
    """
    both = track_vis & det_vis
    n = both.sum(-1)
    w = both[..., None].astype(np.float64)
    cnt = np.maximum(w.sum(1), 1.0)  # (P, 1)
    t = track_kps * (det_h / np.maximum(track_xyah[:, 3], 1e-6))[:, None, None]
    t = t + ((det_kps * w).sum(1) / cnt - (t * w).sum(1) / cnt)[:, None, :]
    d2 = ((t - det_kps) ** 2).sum(-1)
    area = np.maximum(track_xyah[:, 2] * det_h * det_h, 1.0)
    e = np.exp(-np.minimum(d2 / (_OKS_DENOM * area[:, None]), 50.0))
    oks = (e * both).sum(-1) / np.maximum(n, 1)
    oks[n < min_common] = np.nan
    return oks


def fuse_costs(costs: Sequence[Optional[np.ndarray]], weights: Sequence[float]) -> np.ndarray:
    """Weighted mean, per pair, over the cues that are available (not ``nan``) for that pair.

    ``None`` entries and zero weights are skipped. A pair with no available cue gets ``inf``.
    """
    num = None
    den = None
    for c, w in zip(costs, weights):
        if c is None or w <= 0:
            continue
        ok = ~np.isnan(c)
        term = np.where(ok, c, 0.0) * w
        wt = ok * float(w)
        num = term if num is None else num + term
        den = wt if den is None else den + wt
    if num is None:
        raise ValueError('no cost cue available')
    with np.errstate(invalid='ignore', divide='ignore'):
        out = num / den
    out[den == 0] = np.inf
    return out


def linear_assignment(cost: np.ndarray, max_cost: float) -> Tuple[np.ndarray, np.ndarray]:
    """Minimum-cost assignment keeping only pairs with ``cost <= max_cost``.

    Hungarian (``scipy.optimize.linear_sum_assignment``); ``nan`` / ``inf`` never match.

    Returns the matched ``(rows, cols)`` index arrays; unmatched rows/columns are the others.
    """
    admissible = cost <= max_cost
    if not admissible.any():
        return _EMPTY, _EMPTY
    rows, cols = linear_sum_assignment(np.where(admissible, cost, max_cost + 1e5))
    keep = admissible[rows, cols]
    return rows[keep], cols[keep]


def matching_cascade(
    cost: np.ndarray, levels: np.ndarray, max_cost: float
) -> Tuple[np.ndarray, np.ndarray]:
    """DeepSORT matching cascade.

    Rows (tracks) are assigned level by level in increasing ``levels`` (time since update), each
    level only getting the columns the earlier levels left.

    Loops over the distinct levels present (not over 1..max_age). Same return as
    :func:`linear_assignment`.
    """
    uniq = sorted(set(levels.tolist()))
    if len(uniq) <= 1:
        return linear_assignment(cost, max_cost)
    free = np.arange(cost.shape[1])
    out_r, out_c = [], []
    for lv in uniq:
        rows = (levels == lv).nonzero()[0]
        r, c = linear_assignment(cost[rows][:, free], max_cost)
        if len(r):
            out_r.append(rows[r])
            out_c.append(free[c])
            free = np.delete(free, c)
            if len(free) == 0:
                break
    if not out_r:
        return _EMPTY, _EMPTY
    return np.concatenate(out_r), np.concatenate(out_c)
