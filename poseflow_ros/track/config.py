"""Every tracker setting in one dataclass.

Scalars only, so a ROS node can declare each as a parameter.

Association per frame (see :mod:`poseflow_ros.track.tracker` for the full order):

1. detections with ``score >= high_score_threshold`` are matched to confirmed/lost tracks with a
   fused cost (IoU, appearance, pose) inside the Mahalanobis gate, by a matching cascade over
   time-since-update (DeepSORT);
2. the remaining high-score detections are matched by IoU alone to tentative tracks and to tracks
   that were matched in the previous frame (DeepSORT's second stage);
3. detections with ``low_score_threshold <= score < high_score_threshold`` are matched by IoU to
   the tracks of 2. still unmatched (ByteTrack's second association): an occluded, low-confidence
   person keeps its track instead of going lost;
4. unmatched high-score detections start tentative tracks.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..coco import KEYPOINT_SCORE_VISIBLE
from ..settings import check_values, field_errors, setting
from .kalman import CHI2INV95


_p = setting  # default, help, range=(lo, hi), live=True/False: see poseflow_ros/settings.py


@dataclass
class TrackerConfig:
    # ---- detection score split (ByteTrack)
    high_score_threshold: float = _p(
        0.5,
        'Detections scoring at least this take part in the main association and may start tracks.',
        range=(0.0, 1.0),
        live=True,
    )
    low_score_threshold: float = _p(
        0.1,
        'Detections scoring in [low, high) are only used to extend tracks matched in the previous '
        'frame (ByteTrack second association); below low they are ignored.',
        range=(0.0, 1.0),
        live=True,
    )
    # ---- lifecycle
    n_init: int = _p(
        2,
        'A tentative track is confirmed after this many matched frames (1 = at birth).',
        range=(1, 1000),
        live=True,
    )
    max_age: int = _p(
        30,
        'A confirmed track is deleted after more than this many frames without a match.',
        range=(0, 100000),
        live=True,
    )
    # ---- cost fusion (weighted mean over the cues available for a pair)
    iou_weight: float = _p(
        1.0,
        'Weight of the IoU cost (1 - IoU with the Kalman-predicted box).',
        range=(0.0, 10.0),
        live=True,
    )
    appearance_weight: float = _p(
        1.0,
        'Weight of the appearance cost (smallest cosine distance to the track gallery); '
        'used only when features are given.',
        range=(0.0, 10.0),
        live=True,
    )
    pose_weight: float = _p(
        0.5,
        'Weight of the pose cost (1 - OKS to the last pose moved with the predicted box); '
        'used only when keypoints are given.',
        range=(0.0, 10.0),
        live=True,
    )
    motion_weight: float = _p(
        0.0,
        'Weight of the motion cost (squared Mahalanobis distance of the box to the Kalman '
        'prediction / gating_threshold, in [0, 1] inside the gate): tells apart crossing people '
        'of different size or direction when IoU cannot.',
        range=(0.0, 10.0),
        live=True,
    )
    max_match_cost: float = _p(
        0.7,
        'Fused costs above this are never matched (main association).',
        range=(0.0, 1.0),
        live=True,
    )
    max_iou_distance: float = _p(
        0.7,
        'Second stage: 1 - IoU above this is never matched (IoU < 0.3).',
        range=(0.0, 1.0),
        live=True,
    )
    low_score_max_iou_distance: float = _p(
        0.5,
        'Low-score association: 1 - IoU above this is never matched (IoU < 0.5).',
        range=(0.0, 1.0),
        live=True,
    )
    # ---- gating
    gating_threshold: float = _p(
        CHI2INV95[4],
        'Squared Mahalanobis distance gate on (x, y, a, h); default chi2 0.95 with 4 dof.',
        range=(0.01, 10000.0),
        live=True,
    )
    gate_position_only: bool = _p(
        False,
        'Gate on the box centre only (chi2 with 2 dof is then used '
        'if gating_threshold is left at its 4-dof default).',
        live=True,
    )
    matching_cascade: bool = _p(
        True,
        'Match tracks in order of time since update (recently seen first) as DeepSORT does; '
        'False = one global assignment.',
        live=True,
    )
    # ---- appearance
    max_cosine_distance: float = _p(
        0.2,
        'Pairs whose appearance distance exceeds this are not matched in the main association. '
        'Tune per embedder (mobilenet features are all non-negative, so distances are small).',
        range=(0.0, 2.0),
        live=True,
    )
    feature_ema: float = _p(
        0.9,
        'If > 0, each track keeps one exponentially smoothed feature: f = ema * f + (1 - ema) * '
        'new (StrongSORT style; robust to noisy features and fast). 0 = DeepSORT gallery of the '
        'last gallery_budget features, cost = the nearest one.',
        range=(0.0, 0.999),
        live=False,
    )
    gallery_budget: int = _p(
        16,
        'Features kept per track when feature_ema = 0 (DeepSORT nn_budget).',
        range=(1, 1000),
        live=False,
    )
    # ---- pose
    keypoint_threshold: float = _p(
        KEYPOINT_SCORE_VISIBLE,
        'Keypoints scoring below this are ignored by the pose cost (and the border pose check). '
        'The drawing level, lower than posture.keypoint_threshold: a faint joint still tells '
        'where the person is, and OKS weighs its error by the keypoint sigma.',
        range=(0.0, 1.0),
        live=True,
    )
    min_common_keypoints: int = _p(
        3,
        'The pose cost needs at least this many keypoints visible in both.',
        range=(1, 17),
        live=True,
    )
    # ---- Kalman filter
    std_weight_position: float = _p(
        1.0 / 160,
        'Kalman process noise of position and size per frame, as a fraction of the box height '
        '(DeepSORT: 1/20 for this and the measurement noise, which barely smooths).',
        range=(1e-6, 1.0),
        live=True,
    )
    std_weight_velocity: float = _p(
        1.0 / 640,
        'Kalman process noise of the velocities per frame, as a fraction of the box height '
        '(DeepSORT: 1/160).',
        range=(1e-6, 1.0),
        live=True,
    )
    std_weight_measurement: float = _p(
        0.065,
        'Kalman measurement noise (box jitter of the detector), as a fraction of the box height; '
        'DeepSORT uses std_weight_position for both.',
        range=(1e-6, 1.0),
        live=True,
    )
    lost_noise_scale: float = _p(
        5.0,
        'Process noise standard deviations of a track lost for more than coast_frames are '
        'multiplied by this: the constant-velocity guess gets uncertain fast while a person is '
        'unseen, so the gate widens for re-identification after occlusions, while tracked boxes '
        'stay smoothed.',
        range=(1.0, 100.0),
        live=True,
    )
    freeze_lost_size: bool = _p(
        True,
        'While a track is lost, its aspect-ratio and height velocities are set to 0 '
        '(ByteTrack): the predicted box keeps moving but stops growing or shrinking.',
        live=True,
    )
    # ---- keypoint smoothing (One Euro filter per track and keypoint, see track/smoothing.py)
    smooth_keypoints: bool = _p(
        True,
        'Smooth the reported keypoints of each track with a One Euro filter (the raw ones stay in '
        'keypoints_raw); association always uses the raw keypoints.',
        live=True,
    )
    smoothing_min_cutoff: float = _p(
        3.0,
        'One Euro cutoff (Hz) of a still keypoint: lower = steadier but more lag on slow motion.',
        range=(0.001, 100.0),
        live=True,
    )
    smoothing_beta: float = _p(
        2.0,
        'One Euro speed coefficient: the cutoff grows by beta Hz per person size per second of '
        'keypoint speed (speed divided by the box size, so near and far people smooth alike); '
        'higher = less lag on fast motion, more jitter.',
        range=(0.0, 10000.0),
        live=True,
    )
    smoothing_derivative_cutoff: float = _p(
        1.0,
        'One Euro cutoff (Hz) of the low-pass on the keypoint speed.',
        range=(0.001, 100.0),
        live=True,
    )
    smoothing_keypoint_threshold: float = _p(
        KEYPOINT_SCORE_VISIBLE,
        'Keypoints scoring below this are reported raw and restart their filter when seen again '
        '(the level at which keypoints are drawn: a drawn joint is a smoothed one).',
        range=(0.0, 1.0),
        live=True,
    )
    smoothing_rate: float = _p(
        30.0,
        'Frame rate (Hz) assumed for the filter time step when frames carry no increasing stamps.',
        range=(0.1, 1000.0),
        live=True,
    )
    # ---- image border (needs the image size in TrackerInput)
    border_exit_fraction: float = _p(
        0.5,
        'A lost track whose predicted box lies outside the image by at least this fraction of its '
        'area has left the image: it ends after border_max_age frames (1 = once wholly outside).',
        range=(0.01, 1.0),
        live=True,
    )
    border_max_age: int = _p(
        1,
        'Frames a track that has left the image is kept (then deleted, whatever max_age says).',
        range=(0, 100000),
        live=True,
    )
    border_margin: float = _p(
        0.03,
        'A lost track whose predicted box comes within this fraction of the image width/height '
        'of an edge is at the border: it is re-associated only with a box of consistent size '
        '(border_size_ratio) and, when given, consistent appearance or pose; a new person '
        'entering there does not inherit its id on IoU alone. 0 = off.',
        range=(0.0, 0.5),
        live=True,
    )
    border_size_ratio: float = _p(
        1.3,
        'At the border, a lost track and a detection whose heights differ by more than this '
        'factor are never matched.',
        range=(1.0, 100.0),
        live=True,
    )
    border_min_oks: float = _p(
        0.3,
        'At the border, a lost track is matched only to a pose that looks alike: OKS of the two '
        'poses scaled to the same height and centred (shape only) at least this, when both have '
        'enough keypoints (different postures score ~0.1, the same walking person 0.35-0.9); 0 '
        '= no check.',
        range=(0.0, 1.0),
        live=True,
    )
    # ---- what is reported
    output_lost: bool = _p(
        False,
        'Also report confirmed tracks missed in this frame (state LOST, box = Kalman prediction, '
        'keypoints moved with it) until they are deleted.',
        live=True,
    )
    output_tentative: bool = _p(
        False, 'Also report tentative (not yet confirmed) tracks.', live=True
    )
    coast_frames: int = _p(
        2,
        'Report a confirmed track missed for at most this many frames (state LOST, box = Kalman '
        'prediction), bridging detector blinks; 0 = off. output_lost reports every lost track.',
        range=(0, 100000),
        live=True,
    )
    output_filtered_box: bool = _p(
        True,
        'Report the Kalman-filtered box of a matched track (smoother, better localised with '
        'jittery detections) instead of the raw detection box; keypoints are never changed.',
        live=True,
    )

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Check each field against its type/range, then the rules that involve several fields."""
        errs = field_errors(self)
        if not self.low_score_threshold <= self.high_score_threshold:
            errs.append('need low_score_threshold <= high_score_threshold')
        if self.iou_weight + self.appearance_weight + self.pose_weight + self.motion_weight <= 0:
            errs.append('at least one cost weight must be > 0')
        if errs:
            raise ValueError('invalid TrackerConfig: ' + '; '.join(errs))

    @property
    def effective_gating_threshold(self) -> float:
        if self.gate_position_only and self.gating_threshold == CHI2INV95[4]:
            return CHI2INV95[2]
        return float(self.gating_threshold)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> 'TrackerConfig':
        """Build from a (possibly partial) dict; unknown keys and bad types/ranges raise."""
        return cls(**check_values(cls, dict(d or {}), 'tracker'))
