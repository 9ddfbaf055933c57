"""Small dataclasses passed between pipeline stages. No ROS types here.

Conventions used everywhere in the core:
- images are ``numpy.uint8`` arrays, ``H x W x 3``, **BGR** (OpenCV order);
- boxes are ``float32 (N, 4)`` ``x1, y1, x2, y2`` in image pixels;
- keypoints are ``float32 (N, 17, 2)`` ``x, y`` in image pixels, COCO-17 order
  (see :mod:`poseflow_ros.coco`), with ``float32 (N, 17)`` scores in ``[0, 1]``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Dict, List, Optional, Tuple

import numpy as np

if TYPE_CHECKING:  # annotations only: camera.py and depth.py import this module
    from .camera import CameraModel
    from .depth import Poses3D


def _as2d(a, width: int, dtype=np.float32) -> np.ndarray:
    a = np.asarray(a, dtype=dtype)
    if a.size == 0:
        return np.zeros((0, width), dtype)
    return a.reshape(-1, width)


@dataclass
class Frame:
    """One decoded image plus where/when it was taken."""

    image: np.ndarray  # H x W x 3 uint8 BGR
    stamp: float = 0.0  # seconds (ROS stamp converted, or video time)
    frame_id: str = ''
    index: int = 0  # running frame counter
    # float32 H x W metres (NaN invalid), registered to the image
    depth: Optional[np.ndarray] = None
    camera: Optional[CameraModel] = None  # poseflow_ros.camera.CameraModel of the colour image

    @property
    def shape(self):
        return self.image.shape[:2]


@dataclass
class Detections:
    """Person detections of one frame."""

    boxes: np.ndarray  # (N, 4) float32 x1 y1 x2 y2 pixels
    scores: np.ndarray  # (N,) float32

    def __post_init__(self):
        self.boxes = _as2d(self.boxes, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)
        if len(self.boxes) != len(self.scores):
            raise ValueError(f'{len(self.boxes)} boxes but {len(self.scores)} scores')

    def __len__(self):
        return len(self.scores)

    @classmethod
    def empty(cls) -> 'Detections':
        return cls(np.zeros((0, 4), np.float32), np.zeros((0,), np.float32))

    def select(self, mask) -> 'Detections':
        return Detections(self.boxes[mask], self.scores[mask])


@dataclass
class Poses:
    """Top-down pose estimates, one per input box (same order)."""

    keypoints: np.ndarray  # (N, 17, 2) float32 pixels
    scores: np.ndarray  # (N, 17) float32 in [0, 1]
    # (N, 17, 3) metric world landmarks if the backend has them (BlazePose: hip-centred, metres,
    # camera-aligned axes x right / y down / z away from the camera, crop rotation undone), else
    # None
    keypoints_3d: Optional[np.ndarray] = None
    # (N, 5) [cx, cy, side, rotation_rad, valid]: the crop the backend wants for this person next
    # frame (BlazePose alignment ROI from landmarks 33/34), None for backends without one
    rois: Optional[np.ndarray] = None

    def __post_init__(self):
        self.keypoints = np.asarray(self.keypoints, np.float32).reshape(-1, 17, 2)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1, 17)
        if len(self.keypoints) != len(self.scores):
            raise ValueError('keypoints and scores disagree in length')

    def __len__(self):
        return len(self.keypoints)

    @classmethod
    def empty(cls) -> 'Poses':
        return cls(np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.float32))


class TrackState(enum.IntEnum):
    """Lifecycle of a track. Values equal the TrackedPose.msg STATE_* constants."""

    TENTATIVE = 0
    CONFIRMED = 1
    LOST = 2


@dataclass
class TrackerInput:
    """What the tracker gets per frame: detections, optional poses and appearance features."""

    boxes: np.ndarray  # (N, 4) float32
    scores: np.ndarray  # (N,)
    keypoints: Optional[np.ndarray] = None  # (N, 17, 2) or None
    keypoint_scores: Optional[np.ndarray] = None  # (N, 17) or None
    features: Optional[np.ndarray] = None  # (N, D) L2-normalised appearance embeddings, or None
    image_size: Optional[Tuple[int, int]] = None  # (width, height) px: enables the border rules
    stamp: Optional[float] = None  # s: frame time for keypoint smoothing

    def __post_init__(self):
        self.boxes = _as2d(self.boxes, 4)
        self.scores = np.asarray(self.scores, np.float32).reshape(-1)

    def __len__(self):
        return len(self.scores)


@dataclass
class TrackOutput:
    """One track as reported after an update (only non-deleted tracks are reported)."""

    track_id: int
    state: TrackState
    age: int  # frames since the track was born
    hits: int  # number of matched detections
    time_since_update: int  # frames since the last matched detection (0 = matched now)
    box: np.ndarray  # (4,) x1 y1 x2 y2: the matched detection, or the prediction if lost
    score: float  # score of the last matched detection
    keypoints: Optional[np.ndarray] = None  # (17, 2) last matched pose
    keypoint_scores: Optional[np.ndarray] = None  # (17,)
    detection_index: int = -1  # index into this frame's TrackerInput, -1 if not matched now
    keypoints_raw: Optional[np.ndarray] = None  # (17, 2) unsmoothed (== keypoints if off)
    keypoint_scores_raw: Optional[np.ndarray] = None  # (17,) unsmoothed scores


@dataclass
class FrameResult:
    """Everything the pipeline produced for one frame."""

    frame: Frame
    detections: Detections
    poses: Poses
    tracks: List[TrackOutput]
    timings_ms: Dict[str, float] = field(default_factory=dict)  # per stage
    # (len(tracks), 8) degrees, see poseflow_ros.analytics
    joint_angles: Optional[np.ndarray] = None
    postures: Optional[np.ndarray] = None  # (len(tracks),) index into analytics.POSTURES
    # (len(tracks),) float32 in [0, 1], NaN: a side not visible
    symmetry: Optional[np.ndarray] = None
    tracks_3d: Optional[Poses3D] = None  # poseflow_ros.depth.Poses3D aligned with tracks (None: no
    #                                             depth and no camera in this frame)
