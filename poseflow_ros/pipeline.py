"""The core pipeline: detect -> pose -> (embed) -> track, with per-stage timings. No ROS types.

    from poseflow_ros.pipeline import PipelineConfig, PosePipeline
    pipe = PosePipeline.from_config(PipelineConfig(device='auto'))
    result = pipe.process(Frame(image_bgr, stamp, frame_id, index))
"""
from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from typing import Optional

import numpy as np

from .analytics import PostureConfig, classify_posture, joint_angles
from .detect import PersonDetector, detector_for_runtime, make_detector
from .pose import PoseEstimator, make_pose_estimator
from .types import Detections, Frame, FrameResult, Poses, TrackerInput


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'. 'cuda' without a GPU is an error."""
    import torch
    d = (device or 'auto').lower()
    if d == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if d.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError("device='cuda' but no CUDA GPU is visible to torch; use device:=cpu or auto")
    if d != 'cpu' and not d.startswith('cuda'):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return d


@dataclass
class PipelineConfig:
    """Every core setting; the ROS node exposes each as a parameter of the same name."""
    device: str = 'auto'                   # auto | cpu | cuda[:N]
    models_dir: str = ''                   # '' -> $POSEFLOW_MODELS or ~/.cache/poseflow_ros/models
    detector_model: str = ''               # '' -> registered RTMDet-nano person ONNX in models_dir
    detector_score_threshold: float = 0.25  # boxes below are discarded before pose + tracking
    detector_runtime: str = 'auto'         # auto (torch on CUDA, onnxruntime on CPU) | onnxruntime | torch
    max_persons: int = 20                  # at most this many boxes (highest scores) get a pose
    pose_backend: str = 'blazepose'        # blazepose | mmpose
    fp16: bool = False                     # half precision for the pose model (CUDA)
    cuda_graphs: bool = True               # CUDA: detector + pose forwards replayed from CUDA graphs
    pose_runtime: str = 'auto'             # blazepose: auto | torch | onnxruntime (CPU, ~2x faster)
    mmpose_config: str = ''
    mmpose_checkpoint: str = ''
    mmpose_checkpoint_sha256: str = ''
    embedder: str = 'none'                 # appearance features for tracking: none | color | mobilenet
    num_threads: int = 0                   # torch/onnxruntime CPU threads (0 = library default)
    tracker: dict = field(default_factory=dict)   # TrackerConfig overrides
    posture: dict = field(default_factory=dict)   # PostureConfig overrides

    @classmethod
    def from_dict(cls, d: dict) -> 'PipelineConfig':
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f'unknown pipeline settings: {sorted(unknown)}')
        return cls(**d)

    def to_dict(self) -> dict:
        return asdict(self)


class PosePipeline:
    """Runs the stages on one frame at a time; keeps the tracker state between frames."""

    def __init__(self, detector: PersonDetector, pose: PoseEstimator, tracker, embedder=None,
                 max_persons: int = 20, posture: PostureConfig = None):
        self.posture = posture or PostureConfig()
        self.detector = detector
        self.pose = pose
        self.tracker = tracker
        self.embedder = embedder
        self.max_persons = int(max_persons)

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> 'PosePipeline':
        from .track import Tracker, TrackerConfig
        if cfg.max_persons < 1:
            raise ValueError(f'max_persons must be >= 1, got {cfg.max_persons}')
        if not 0.0 <= cfg.detector_score_threshold <= 1.0:
            raise ValueError(f'detector_score_threshold must be in [0, 1], got {cfg.detector_score_threshold}')
        device = resolve_device(cfg.device)
        det_kind = detector_for_runtime(cfg.detector_runtime, device)   # validates detector_runtime
        if cfg.num_threads > 0:
            import torch
            torch.set_num_threads(cfg.num_threads)
        det_kw = {'cuda_graph': cfg.cuda_graphs} if det_kind == 'rtmdet_torch' else {}
        det = make_detector(det_kind, model_path=cfg.detector_model, models_dir=cfg.models_dir,
                            device=device, score_threshold=cfg.detector_score_threshold,
                            num_threads=cfg.num_threads, **det_kw)
        pose = make_pose_estimator(cfg.pose_backend, device=device, fp16=cfg.fp16,
                                   models_dir=cfg.models_dir, mmpose_config=cfg.mmpose_config,
                                   mmpose_checkpoint=cfg.mmpose_checkpoint,
                                   mmpose_checkpoint_sha256=cfg.mmpose_checkpoint_sha256,
                                   runtime=cfg.pose_runtime, num_threads=cfg.num_threads,
                                   cuda_graphs=cfg.cuda_graphs)
        embedder = None
        if cfg.embedder and cfg.embedder != 'none':
            from .track.embed import make_embedder
            embedder = make_embedder(cfg.embedder, device=device, models_dir=cfg.models_dir)
        tracker = Tracker(TrackerConfig.from_dict(dict(cfg.tracker)))
        return cls(det, pose, tracker, embedder, cfg.max_persons, PostureConfig(**cfg.posture))

    def warmup(self, image_hw=(480, 640)) -> None:
        self.detector.warmup(image_hw)
        self.pose.warmup(image_hw, self.max_persons)

    def detect(self, image: np.ndarray) -> Detections:
        """Person boxes of an image, at most ``max_persons`` (the highest scores)."""
        dets = self.detector.detect(image)
        if len(dets) > self.max_persons:
            dets = dets.select(np.argsort(-dets.scores)[: self.max_persons])
        return dets

    def process(self, frame: Frame) -> FrameResult:
        timings = {}
        t0 = time.perf_counter()
        dets = self.detect(frame.image)
        t1 = time.perf_counter()
        timings['detect'] = (t1 - t0) * 1e3
        poses = self.pose.estimate(frame.image, dets.boxes) if len(dets) else Poses.empty()
        t2 = time.perf_counter()
        crop_ms = float(getattr(self.pose, 'last_crop_ms', 0.0)) if len(dets) else 0.0
        timings['crop'] = crop_ms
        timings['pose'] = (t2 - t1) * 1e3 - crop_ms
        feats: Optional[np.ndarray] = None
        if self.embedder is not None and len(dets):
            feats = self.embedder.embed(frame.image, dets.boxes, poses.keypoints, poses.scores)
        t3 = time.perf_counter()
        if self.embedder is not None:
            timings['embed'] = (t3 - t2) * 1e3
        tracks = self.tracker.update(TrackerInput(dets.boxes, dets.scores, poses.keypoints,
                                                  poses.scores, feats))
        t4 = time.perf_counter()
        timings['track'] = (t4 - t3) * 1e3
        angles, postures = self.analyse(tracks)
        return FrameResult(frame, dets, poses, tracks, list(self.tracker.ended_ids), timings,
                           angles, postures)

    def analyse(self, tracks):
        """Joint angles (T,8) and posture labels (T,) for the reported tracks."""
        angles = np.full((len(tracks), 8), np.nan, np.float32)
        postures = np.zeros((len(tracks),), np.uint8)
        rows = [i for i, t in enumerate(tracks) if t.keypoints is not None]
        if not rows:
            return angles, postures
        kp = np.stack([tracks[i].keypoints for i in rows])
        sc = np.stack([tracks[i].keypoint_scores for i in rows])
        angles[rows] = joint_angles(kp, sc, self.posture.keypoint_threshold)     # all tracks at once
        for j, i in enumerate(rows):
            postures[i] = classify_posture(kp[j], sc[j], self.posture, angles[i])
        return angles, postures
