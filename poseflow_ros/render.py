"""Drawing: per-track colours and skeleton overlays.

Shared by the debug image and the demo video.
"""

from __future__ import annotations

import colorsys
from typing import Iterable, Tuple

import cv2
import numpy as np

from .coco import KEYPOINT_SCORE_VISIBLE, SKELETON
from .types import TrackOutput, TrackState


def track_color(track_id: int) -> Tuple[float, float, float]:
    """Stable, well-spread RGB colour in [0,1] for a track id (golden-ratio hue walk)."""
    h = (int(track_id) * 0.618033988749895) % 1.0
    return colorsys.hsv_to_rgb(h, 0.85, 0.95)


def _bgr255(track_id: int):
    r, g, b = track_color(track_id)
    return int(b * 255), int(g * 255), int(r * 255)


def draw_tracks(
    image: np.ndarray,
    tracks: Iterable[TrackOutput],
    kp_threshold: float = KEYPOINT_SCORE_VISIBLE,
    copy: bool = True,
) -> np.ndarray:
    """Skeleton, joints, box and id label per track, coloured by id.

    Lost tracks are drawn dashed-grey.
    """
    out = image.copy() if copy else image
    for t in tracks:
        col = _bgr255(t.track_id) if t.state != TrackState.LOST else (160, 160, 160)
        x1, y1, x2, y2 = [int(round(v)) for v in t.box]
        cv2.rectangle(out, (x1, y1), (x2, y2), col, 1)
        label = f'#{t.track_id}' + (' lost' if t.state == TrackState.LOST else '')
        cv2.putText(
            out,
            label,
            (x1 + 2, max(12, y1 - 4)),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.5,
            col,
            2,
            cv2.LINE_AA,
        )
        if t.keypoints is None or t.state == TrackState.LOST:
            continue
        kp, sc = t.keypoints, t.keypoint_scores
        for a, b in SKELETON:
            if sc[a] >= kp_threshold and sc[b] >= kp_threshold:
                cv2.line(
                    out,
                    tuple(np.round(kp[a]).astype(int)),
                    tuple(np.round(kp[b]).astype(int)),
                    col,
                    2,
                    cv2.LINE_AA,
                )
        for i in range(len(kp)):
            if sc[i] >= kp_threshold:
                cv2.circle(out, tuple(np.round(kp[i]).astype(int)), 3, col, -1, cv2.LINE_AA)
    return out
