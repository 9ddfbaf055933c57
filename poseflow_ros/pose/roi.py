"""BlazePose alignment ROIs (where the landmark model wants its next crop) and a memory for them.

The memory carries the ROIs from frame to frame.

The landmark model outputs two extra "alignment" landmarks after the 33 body landmarks: index 33,
the hip centre, and index 34, a point on the circle that encloses the whole body. MediaPipe's pose
graph turns them into the crop for the next frame (``pose_landmark_landmarks_to_roi``): a square
centred on 33, side ``2 |34 - 33|``, scaled by 1.25, rotated so that 33 -> 34 points up in the
crop. The same ROI, computed from a crop made out of a detector box, is also a better crop for a
second pass on the same frame.

A ROI row is ``[cx, cy, side, rotation, valid]`` (pixels, radians, 0/1); :func:`crop.roi_matrices`
makes the 2x3 crop matrix of the first four. :func:`reliable` decides per person whether the ROI
may be used (model confident, a hip visible, ROI consistent with the box); :class:`RoiMemory`
carries the ROIs of one frame to the next (matched by box IoU), so that a person's crop at frame t
comes from frame t-1's landmarks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..geometry import iou_matrix

HIP_CENTRE, BODY_EXTENT = 33, 34
LEFT_HIP, RIGHT_HIP = 23, 24
ROI_SCALE = 1.25  # MediaPipe pose_landmark_landmarks_to_roi: scale_x = scale_y = 1.25
# how the pose stage crops persons: box only / + passes on the alignment ROI / previous frame's ROI
CROP_MODES = ('box', 'refine', 'temporal')


def wrap_angle(a: np.ndarray) -> np.ndarray:
    """Angles to [-pi, pi)."""
    return (np.asarray(a, np.float64) + np.pi) % (2 * np.pi) - np.pi


def alignment_rois(points: np.ndarray, scale: float = ROI_SCALE) -> np.ndarray:
    """(N, >=35, 2) landmarks in image pixels -> (N,4) ROIs ``[cx, cy, side, rotation]``.

    Centre = landmark 33, side = 2 |34 - 33| x ``scale``, rotation such that the crop's up
    direction (``(sin r, -cos r)`` in the image, see :func:`crop.rotation_matrices`) points from 33
    to 34.
    """
    pts = np.asarray(points, np.float64)
    c, e = pts[:, HIP_CENTRE, :2], pts[:, BODY_EXTENT, :2]
    d = e - c
    side = 2.0 * np.linalg.norm(d, axis=1) * scale
    rot = wrap_angle(np.pi / 2 - np.arctan2(-d[:, 1], d[:, 0]))
    return np.concatenate([c, side[:, None], rot[:, None]], 1).astype(np.float32)


def roi_corners(rois: np.ndarray) -> np.ndarray:
    """(N,>=4) ROIs -> (N,4,2) corner points in the image.

    Order: top-left, top-right, bottom-right, bottom-left of the crop.
    """
    from .crop import rotation_matrices

    rois = np.asarray(rois, np.float64).reshape(-1, np.shape(rois)[-1])
    unit = np.array([[-0.5, -0.5], [0.5, -0.5], [0.5, 0.5], [-0.5, 0.5]])
    r = rotation_matrices(rois[:, 3])
    off = np.einsum('nij,kj->nki', r, unit) * rois[:, None, 2:3]
    return (rois[:, None, :2] + off).astype(np.float32)


@dataclass
class RoiCheck:
    """When an alignment ROI counts as reliable (else the person's crop falls back to the box).

    ``min_flag``: the model's pose flag of the pass the landmarks came from (needed to carry a ROI
    to the next frame; a second pass on the same frame is judged by its own flag instead);
    ``min_hip_visibility``: the visibility (sigmoid) of the better-seen hip (both hips out of view:
    the hip centre is a guess);
    ``min_box_cover``: the fraction of the person box inside the ROI square (a ROI that lost the
    person);
    ``side_range``: ROI side over the box's longer side (too small or too large means a wrong
    scale);
    ``crowd_inner``: see :func:`crowded`.
    """

    min_flag: float = 0.5
    min_hip_visibility: float = 0.5
    min_box_cover: float = 0.6
    side_range: tuple = (0.5, 3.0)
    crowd_inner: float = 0.4


def box_cover(rois: np.ndarray, boxes: np.ndarray, samples: int = 8) -> np.ndarray:
    """(N,) fraction of each box (xyxy) inside its rotated ROI square.

    Sampled on a samples x samples grid.
    """
    from .crop import rotation_matrices

    rois = np.asarray(rois, np.float64).reshape(len(boxes), -1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    g = (np.arange(samples) + 0.5) / samples
    gx, gy = np.meshgrid(g, g)
    unit = np.stack([gx.ravel(), gy.ravel()], 1)  # (P,2) in [0,1]
    pts = boxes[:, None, :2] + unit[None] * (boxes[:, None, 2:] - boxes[:, None, :2])  # (N,P,2)
    r = rotation_matrices(rois[:, 3])
    local = np.einsum('nji,npj->npi', r, pts - rois[:, None, :2])  # R^T (p - c)
    inside = (np.abs(local) <= rois[:, None, 2:3] * 0.5).all(-1)
    return inside.mean(1)


def reliable(
    rois: np.ndarray,
    boxes: np.ndarray,
    flag: Optional[np.ndarray],
    hip_visibility: np.ndarray,
    check: Optional[RoiCheck] = None,
) -> np.ndarray:
    """(N,) bool: whether alignment ROIs ``rois`` (N,>=4) may replace the crops of ``boxes`` (N,4).

    ``flag`` (N,) pose flag (None: not checked), ``hip_visibility`` (N,2) sigmoid visibilities of
    the two hips, both from the pass that produced the landmarks.
    """
    check = check or RoiCheck()
    rois = np.asarray(rois, np.float64).reshape(len(boxes), -1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    longer = np.maximum(np.maximum(boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]), 1.0)
    ratio = rois[:, 2] / longer
    ok = np.isfinite(rois[:, :4]).all(1) & (rois[:, 2] > 1.0)
    if flag is not None:
        ok &= np.asarray(flag).reshape(-1) >= check.min_flag
    ok &= np.asarray(hip_visibility).reshape(len(boxes), -1).max(1) >= check.min_hip_visibility
    ok &= (ratio >= check.side_range[0]) & (ratio <= check.side_range[1])
    ok &= box_cover(rois, boxes) >= check.min_box_cover
    return ok


def crowded(
    rois: np.ndarray,
    boxes: np.ndarray,
    all_boxes: np.ndarray,
    inner: float = 0.4,
    same_iou: float = 0.7,
) -> np.ndarray:
    """(N,) True where another person's box centre is in the inner part of the ROI of ``boxes[i]``.

    The other people's boxes are those of ``all_boxes`` (the frame's boxes); the inner part is
    ``inner`` x the side of the ROI square.

    The alignment ROI is a single-person crop about twice the body's extent: with a second person
    near its centre, BlazePose may put the skeleton on that one (seen on the five_people RGB-D
    frame: two people walking side by side got one torso: fixed from inner = 0.4 on, not at 0.3; at
    0.6, 86 % of the people of walk.small.mp4 counted as crowded, at 0.4 13 %), so such people keep
    the tighter box crop. A box that overlaps ``boxes[i]`` by IoU >= ``same_iou`` is the same
    person seen twice, not another one.
    """
    from .crop import rotation_matrices

    rois = np.asarray(rois, np.float64).reshape(len(boxes), -1)
    boxes = np.asarray(boxes, np.float64).reshape(-1, 4)
    others = np.asarray(all_boxes, np.float64).reshape(-1, 4)
    if not len(boxes) or len(others) < 2:
        return np.zeros(len(boxes), bool)
    centres = (others[:, :2] + others[:, 2:]) * 0.5  # (M,2)
    r = rotation_matrices(rois[:, 3])
    local = np.einsum('nji,nmj->nmi', r, centres[None] - rois[:, None, :2])  # (N,M,2)
    near = (np.abs(local) <= rois[:, None, 2:3] * 0.5 * inner).all(-1)
    near &= iou_matrix(boxes, others) < same_iou
    return near.any(1)


class RoiMemory:
    """Previous frame's alignment ROIs, handed to this frame's boxes (MediaPipe's tracking mode).

    ``prior(boxes)`` returns (N,5) ROIs for this frame's boxes: a box takes the ROI of the previous
    frame's box it overlaps most (IoU >= ``min_iou``, one-to-one, greedy by IoU) when that ROI was
    valid and still covers the new box (``min_box_cover``); other rows have valid = 0 (the box crop
    is used). ``update(boxes, rois)`` stores this frame's boxes and the ROIs the pose stage
    computed for them. Matching by box keeps the memory independent of the tracker, so it works
    with any box source; a false positive hands nothing on because its ROI is not valid (low pose
    flag). (Smoothing the ROIs over time, as MediaPipe filters these landmarks, was tried: it did
    not lower the keypoint jitter on the shared videos, so the ROIs are used as computed.)
    """

    def __init__(self, min_iou: float = 0.3, min_box_cover: float = 0.6):
        self.min_iou = float(min_iou)
        self.min_box_cover = float(min_box_cover)
        self.reset()

    def reset(self) -> None:
        """Forget everything (a new stream)."""
        self.boxes = np.zeros((0, 4), np.float32)
        self.rois = np.zeros((0, 5), np.float32)

    def match(self, boxes: np.ndarray) -> np.ndarray:
        """(N,) index of the previous frame's box each box continues, -1 if none.

        Only boxes with a valid ROI count.
        """
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        out = np.full(len(boxes), -1, np.int64)
        valid = self.rois[:, 4] > 0
        if not len(boxes) or not valid.any():
            return out
        iou = iou_matrix(boxes, self.boxes)
        iou[:, ~valid] = 0.0
        taken_old = np.zeros(len(self.boxes), bool)
        for flat in np.argsort(-iou, axis=None):
            i, j = np.unravel_index(flat, iou.shape)
            if iou[i, j] < self.min_iou:
                break
            if out[i] < 0 and not taken_old[j]:
                out[i], taken_old[j] = j, True
        return out

    def prior(self, boxes: np.ndarray) -> np.ndarray:
        """(N,4) boxes of this frame -> (N,5) ROIs of the previous frame (valid = 0 where none)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        out = np.zeros((len(boxes), 5), np.float32)
        j = self.match(boxes)
        use = np.flatnonzero(j >= 0)
        if len(use):
            out[use] = self.rois[j[use]]
            out[use[box_cover(out[use], boxes[use]) < self.min_box_cover], 4] = 0.0
        return out

    def estimate(self, pose, image: np.ndarray, boxes: np.ndarray):
        """Run ``pose.estimate`` with this memory's prior ROIs for ``boxes``.

        This is the pipeline's pose stage.
        """
        return pose.estimate(image, boxes, rois=self.prior(boxes))

    def remember(self, boxes: np.ndarray, poses) -> None:
        """Keep this frame's ``poses.rois`` (from :meth:`estimate`) for the next frame."""
        self.update(boxes, getattr(poses, 'rois', None))

    def update(self, boxes: np.ndarray, rois: Optional[np.ndarray]) -> None:
        """Remember this frame's boxes and their ROIs (None: the pose backend has none; forget)."""
        boxes = np.asarray(boxes, np.float32).reshape(-1, 4)
        if rois is None:
            self.reset()
            return
        self.boxes = boxes.copy()
        self.rois = np.array(rois, np.float32).reshape(-1, 5)
