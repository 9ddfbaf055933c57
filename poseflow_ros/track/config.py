"""Every tracker setting in one dataclass (scalars only, so a ROS node can declare each as a parameter).

Association per frame (see :mod:`poseflow_ros.track.tracker` for the full order):

1. detections with ``score >= high_score_threshold`` are matched to confirmed/lost tracks with a fused
   cost (IoU, appearance, pose) inside the Mahalanobis gate, by a matching cascade over
   time-since-update (DeepSORT);
2. the remaining high-score detections are matched by IoU alone to tentative tracks and to tracks that
   were matched in the previous frame (DeepSORT's second stage);
3. detections with ``low_score_threshold <= score < high_score_threshold`` are matched by IoU to the
   tracks of 2. still unmatched (ByteTrack's second association): an occluded, low-confidence person
   keeps its track instead of going lost;
4. unmatched high-score detections start tentative tracks.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass

from ..settings import check_values, field_errors, setting
from .kalman import CHI2INV95


_p = setting   # default, help, range=(lo, hi), live=True/False: see poseflow_ros/settings.py


@dataclass
class TrackerConfig:
    # ---- detection score split (ByteTrack)
    high_score_threshold: float = _p(
        0.5, 'Detections scoring at least this take part in the main association and may start tracks.',
        range=(0.0, 1.0), live=True)
    low_score_threshold: float = _p(
        0.1, 'Detections scoring in [low, high) are only used to extend tracks matched in the previous '
             'frame (ByteTrack second association); below low they are ignored.', range=(0.0, 1.0), live=True)
    # ---- lifecycle
    n_init: int = _p(2, 'A tentative track is confirmed after this many matched frames (1 = at birth).',
        range=(1, 1000), live=True)
    max_age: int = _p(30, 'A confirmed track is deleted after more than this many frames without a match.',
        range=(0, 100000), live=True)
    # ---- cost fusion (weighted mean over the cues available for a pair)
    iou_weight: float = _p(1.0, 'Weight of the IoU cost (1 - IoU with the Kalman-predicted box).',
        range=(0.0, 10.0), live=True)
    appearance_weight: float = _p(
        1.0, 'Weight of the appearance cost (smallest cosine distance to the track gallery); '
             'used only when features are given.', range=(0.0, 10.0), live=True)
    pose_weight: float = _p(
        0.5, 'Weight of the pose cost (1 - OKS to the last pose moved with the predicted box); '
             'used only when keypoints are given.', range=(0.0, 10.0), live=True)
    motion_weight: float = _p(
        0.0, 'Weight of the motion cost (squared Mahalanobis distance of the box to the Kalman prediction '
             '/ gating_threshold, in [0, 1] inside the gate): tells apart crossing people of different '
             'size or direction when IoU cannot.', range=(0.0, 10.0), live=True)
    max_match_cost: float = _p(0.7, 'Fused costs above this are never matched (main association).',
        range=(0.0, 1.0), live=True)
    max_iou_distance: float = _p(0.7, 'Second stage: 1 - IoU above this is never matched (IoU < 0.3).',
        range=(0.0, 1.0), live=True)
    low_score_max_iou_distance: float = _p(
        0.5, 'Low-score association: 1 - IoU above this is never matched (IoU < 0.5).',
        range=(0.0, 1.0), live=True)
    # ---- gating
    gating_threshold: float = _p(
        CHI2INV95[4], 'Squared Mahalanobis distance gate on (x, y, a, h); default chi2 0.95 with 4 dof.',
        range=(0.01, 10000.0), live=True)
    gate_position_only: bool = _p(False, 'Gate on the box centre only (chi2 with 2 dof is then used '
                                         'if gating_threshold is left at its 4-dof default).', live=True)
    matching_cascade: bool = _p(
        True, 'Match tracks in order of time since update (recently seen first) as DeepSORT does; '
              'False = one global assignment.', live=True)
    # ---- appearance
    max_cosine_distance: float = _p(
        0.2, 'Pairs whose appearance distance exceeds this are not matched in the main association. '
              'Tune per embedder (mobilenet features are all non-negative, so distances are small).',
        range=(0.0, 2.0), live=True)
    feature_ema: float = _p(
        0.9, 'If > 0, each track keeps one exponentially smoothed feature: f = ema * f + (1 - ema) * new '
             '(StrongSORT style; robust to noisy features and fast). 0 = DeepSORT gallery of the last '
             'gallery_budget features, cost = the nearest one.', range=(0.0, 0.999), live=False)
    gallery_budget: int = _p(16, 'Features kept per track when feature_ema = 0 (DeepSORT nn_budget).',
        range=(1, 1000), live=False)
    # ---- pose
    keypoint_threshold: float = _p(0.3, 'Keypoints scoring below this are ignored by the pose cost.',
        range=(0.0, 1.0), live=True)
    min_common_keypoints: int = _p(3, 'The pose cost needs at least this many keypoints visible in both.',
        range=(1, 17), live=True)
    # ---- Kalman filter
    std_weight_position: float = _p(
        1.0 / 160, 'Kalman process noise of position and size per frame, as a fraction of the box height '
                   '(DeepSORT: 1/20 for this and the measurement noise, which barely smooths).',
        range=(1e-6, 1.0), live=True)
    std_weight_velocity: float = _p(
        1.0 / 640, 'Kalman process noise of the velocities per frame, as a fraction of the box height '
                   '(DeepSORT: 1/160).', range=(1e-6, 1.0), live=True)
    std_weight_measurement: float = _p(
        0.065, 'Kalman measurement noise (box jitter of the detector), as a fraction of the box height; '
                  'DeepSORT uses std_weight_position for both.', range=(1e-6, 1.0), live=True)
    lost_noise_scale: float = _p(
        5.0, 'Process noise standard deviations of a track lost for more than coast_frames are multiplied '
             'by this: the constant-velocity guess gets uncertain fast while a person is unseen, so the '
             'gate widens for re-identification after occlusions, while tracked boxes stay smoothed.',
        range=(1.0, 100.0), live=True)
    freeze_lost_size: bool = _p(
        True, 'While a track is lost, its aspect-ratio and height velocities are set to 0 (ByteTrack): the '
              'predicted box keeps moving but stops growing or shrinking.', live=True)
    # ---- what is reported
    output_lost: bool = _p(
        False, 'Also report confirmed tracks missed in this frame (state LOST, box = Kalman prediction, '
               'keypoints moved with it) until they are deleted.', live=True)
    output_tentative: bool = _p(False, 'Also report tentative (not yet confirmed) tracks.', live=True)
    coast_frames: int = _p(
        2, 'Report a confirmed track missed for at most this many frames (state LOST, box = Kalman '
           'prediction), bridging detector blinks; 0 = off. output_lost reports every lost track.',
        range=(0, 100000), live=True)
    output_filtered_box: bool = _p(
        True, 'Report the Kalman-filtered box of a matched track (smoother, better localised with '
               'jittery detections) instead of the raw detection box; keypoints are never changed.',
        live=True)

    def __post_init__(self):
        self.validate()

    def validate(self) -> None:
        """Each field against its declared type/range, then the rules that involve several fields."""
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
