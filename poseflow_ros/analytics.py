"""Pose analytics from 2D keypoints: joint angles and a simple posture label. ROS-free.

Joint angles (degrees, in the image plane, NaN when a keypoint is below the score threshold):

============== ================================ ===========================================
angle          vertex                           between
============== ================================ ===========================================
elbow          elbow                            shoulder and wrist (180 = straight arm)
knee           knee                             hip and ankle (180 = straight leg)
shoulder       shoulder                         hip and elbow (0 = arm down, 180 = arm up)
hip            hip                              shoulder and knee (180 = upright, ~90 = seated)
============== ================================ ===========================================

Symmetry score (:func:`symmetry_score`), per person in [0, 1]: the left and right angles of the
four joints (elbow, knee, shoulder, hip) compared, ``1 - RMS(|left - right|) / 180`` over the
joints whose two angles are both visible (1 = mirror-symmetric pose, 0 = every pair 180 degrees
apart; with the other joints mirrored, one straight arm raised sideways to the horizontal gives
0.75, straight up 0.5; the two people walking in the shared couple.jpg score 0.94-0.95); NaN when
no joint has both sides visible (a person in profile, or one side occluded).

Posture label, first rule that applies (thresholds in :class:`PostureConfig`): ``arms_raised``
every visible wrist (at least one; any one, with ``one_arm_counts``) above its shoulder by a margin
of the torso length (a wrist that is not visible, e.g. a hand raised out of the image, does not
vote); ``sitting`` both hip angles (or the visible one) below ``sitting_max_hip_angle`` or thighs
close to horizontal; ``standing`` hips and knees straight and the torso upright; else ``unknown``
(including when the needed keypoints are not visible).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .coco import KEYPOINT_INDEX as K
from .coco import KEYPOINT_SCORE_RELIABLE
from .settings import check_fields, setting

ANGLE_NAMES = (
    'left_elbow',
    'right_elbow',
    'left_knee',
    'right_knee',
    'left_shoulder',
    'right_shoulder',
    'left_hip',
    'right_hip',
)
# (a, vertex, b) per angle, same order as ANGLE_NAMES
_TRIPLES = np.array(
    [
        (K['left_shoulder'], K['left_elbow'], K['left_wrist']),
        (K['right_shoulder'], K['right_elbow'], K['right_wrist']),
        (K['left_hip'], K['left_knee'], K['left_ankle']),
        (K['right_hip'], K['right_knee'], K['right_ankle']),
        (K['left_hip'], K['left_shoulder'], K['left_elbow']),
        (K['right_hip'], K['right_shoulder'], K['right_elbow']),
        (K['left_shoulder'], K['left_hip'], K['left_knee']),
        (K['right_shoulder'], K['right_hip'], K['right_knee']),
    ]
)

# (left, right) column pairs of joint_angles' output compared by symmetry_score
SYMMETRY_PAIRS = np.array(
    [
        (ANGLE_NAMES.index(f'left_{j}'), ANGLE_NAMES.index(f'right_{j}'))
        for j in ('elbow', 'knee', 'shoulder', 'hip')
    ]
)

POSTURES = ('unknown', 'standing', 'sitting', 'arms_raised')
UNKNOWN, STANDING, SITTING, ARMS_RAISED = range(4)


@dataclass
class PostureConfig:
    """Posture thresholds (all live: a running node applies a change from the next frame)."""

    keypoint_threshold: float = setting(
        KEYPOINT_SCORE_RELIABLE,
        'Posture/angles: keypoints scoring below this count as not visible (stricter than the '
        "drawing threshold keypoint_score_threshold and the tracker's keypoint thresholds: a "
        'wrong joint flips a label, a faint one only looks faint).',
        range=(0.0, 1.0),
        live=True,
    )
    arms_raised_margin: float = setting(
        0.15,
        'arms_raised: wrist above its shoulder by this fraction of the torso length.',
        range=(0.0, 2.0),
        live=True,
    )
    one_arm_counts: bool = setting(
        False,
        'arms_raised with one raised arm even when the other arm is visibly down.',
        live=True,
    )
    sitting_max_hip_angle: float = setting(
        125.0,
        'sitting: hip angle(s) (shoulder-hip-knee, degrees) below this.',
        range=(0.0, 180.0),
        live=True,
    )
    standing_min_hip_angle: float = setting(
        155.0, 'standing: hip angle(s) at least this (degrees).', range=(0.0, 180.0), live=True
    )
    standing_min_knee_angle: float = setting(
        150.0, 'standing: knee angle(s) at least this (degrees).', range=(0.0, 180.0), live=True
    )
    upright_max_torso_tilt: float = setting(
        30.0,
        'standing: torso at most this many degrees from vertical.',
        range=(0.0, 90.0),
        live=True,
    )

    def __post_init__(self):
        check_fields(self)


def joint_angles(
    keypoints: np.ndarray, scores: np.ndarray, threshold: float = KEYPOINT_SCORE_RELIABLE
) -> np.ndarray:
    """Keypoints (N,17,2), scores (N,17) -> (N,8) angles in degrees (NaN where not visible)."""
    kp = np.asarray(keypoints, np.float64).reshape(-1, 17, 2)
    sc = np.asarray(scores, np.float64).reshape(-1, 17)
    a, v, b = kp[:, _TRIPLES[:, 0]], kp[:, _TRIPLES[:, 1]], kp[:, _TRIPLES[:, 2]]
    u1, u2 = a - v, b - v
    n1, n2 = np.linalg.norm(u1, axis=-1), np.linalg.norm(u2, axis=-1)
    cos = (u1 * u2).sum(-1) / np.maximum(n1 * n2, 1e-9)
    ang = np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))
    vis = (sc[:, _TRIPLES] >= threshold).all(-1) & (n1 > 1e-6) & (n2 > 1e-6)
    return np.where(vis, ang, np.nan).astype(np.float32)


def symmetry_score(angles: np.ndarray) -> np.ndarray:
    """Left/right symmetry of each person from its joint angles.

    Angles (N,8) degrees as :func:`joint_angles` returns them (NaN = not visible) -> (N,) float32
    in [0, 1], ``1 - RMS(|left - right|) / 180`` over the elbow/knee/shoulder/hip pairs with both
    angles visible; NaN for a person without such a pair.
    """
    a = np.asarray(angles, np.float64).reshape(-1, len(ANGLE_NAMES))
    # (N, 4); NaN: a side unseen
    diff = np.abs(a[:, SYMMETRY_PAIRS[:, 0]] - a[:, SYMMETRY_PAIRS[:, 1]])
    ok = ~np.isnan(diff)
    n = ok.sum(1)
    msq = np.where(ok, diff, 0.0) ** 2
    rms = np.sqrt(msq.sum(1) / np.maximum(n, 1))
    score = np.clip(1.0 - rms / 180.0, 0.0, 1.0)
    return np.where(n > 0, score, np.nan).astype(np.float32)


def _mid(kp, sc, i, j, thr):
    ok = sc[i] >= thr and sc[j] >= thr
    return (kp[i] + kp[j]) / 2.0 if ok else None


def classify_posture(
    keypoints: np.ndarray,
    scores: np.ndarray,
    cfg: PostureConfig = PostureConfig(),
    angles: np.ndarray = None,
) -> int:
    """One person: keypoints (17,2), scores (17,) -> index into POSTURES."""
    kp = np.asarray(keypoints, np.float64)
    sc = np.asarray(scores, np.float64)
    thr = cfg.keypoint_threshold
    if angles is None:
        angles = joint_angles(kp[None], sc[None], thr)[0]
    sh = _mid(kp, sc, K['left_shoulder'], K['right_shoulder'], thr)
    hp = _mid(kp, sc, K['left_hip'], K['right_hip'], thr)
    torso = float(np.linalg.norm(sh - hp)) if sh is not None and hp is not None else None
    if torso is None and sh is not None:
        # upper body only: use shoulder width as the scale
        torso = float(np.linalg.norm(kp[K['left_shoulder']] - kp[K['right_shoulder']])) * 1.5
    if sh is not None and torso and torso > 1.0:
        raised = []
        for w, s in (('left_wrist', 'left_shoulder'), ('right_wrist', 'right_shoulder')):
            if sc[K[w]] >= thr and sc[K[s]] >= thr:
                raised.append(kp[K[s], 1] - kp[K[w], 1] > cfg.arms_raised_margin * torso)
        # an arm whose wrist (or shoulder) is not visible does not vote: a raised hand that leaves
        # the image must not turn "both arms up" into "unknown"
        if raised and (any(raised) if cfg.one_arm_counts else all(raised)):
            return ARMS_RAISED
    hip_angles = angles[[6, 7]]
    knee_angles = angles[[2, 3]]
    vis_hip = hip_angles[~np.isnan(hip_angles)]
    vis_knee = knee_angles[~np.isnan(knee_angles)]
    if vis_hip.size and (vis_hip < cfg.sitting_max_hip_angle).all():
        return SITTING
    if sh is not None and hp is not None and vis_hip.size and vis_knee.size:
        d = sh - hp
        tilt = np.degrees(np.arctan2(abs(d[0]), abs(d[1]) + 1e-9))
        upright = d[1] < 0 and tilt <= cfg.upright_max_torso_tilt
        if (
            upright
            and (vis_hip >= cfg.standing_min_hip_angle).all()
            and (vis_knee >= cfg.standing_min_knee_angle).all()
        ):
            return STANDING
    return UNKNOWN
