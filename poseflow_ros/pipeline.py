"""The core pipeline: detect -> pose -> (embed) -> track, with per-stage timings. No ROS types.

from poseflow_ros.pipeline import PipelineConfig, PosePipeline
pipe = PosePipeline.from_config(PipelineConfig(device='auto'))
result = pipe.process(Frame(image_bgr, stamp, frame_id, index))
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from typing import ClassVar, Dict, Optional

import numpy as np

from .analytics import PostureConfig, classify_posture, joint_angles, symmetry_score
from .coco import KEYPOINT_SCORE_VISIBLE
from .deprecation import warn_renamed
from .depth import DepthConfig, DepthStage
from .detect import (
    CANVASES,
    DEFAULT_SCORE_THRESHOLD,
    DETECTOR_RUNTIMES,
    PersonDetector,
    make_detector,
    resolve_runtime,
)
from .pose import BLAZEPOSE_RUNTIMES, POSE_PRECISIONS, PoseEstimator, make_pose_estimator
from .pose.roi import CROP_MODES, RoiMemory
from .settings import check_fields, check_values, setting
from .types import Detections, Frame, FrameResult, Poses, TrackerInput


def resolve_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees a GPU, else 'cpu'. 'cuda' without a GPU is an error."""
    import torch

    d = (device or 'auto').lower()
    if d == 'auto':
        return 'cuda' if torch.cuda.is_available() else 'cpu'
    if d.startswith('cuda') and not torch.cuda.is_available():
        raise ValueError(
            "device='cuda' but no CUDA GPU is visible to torch; use device:=cpu or auto"
        )
    if d != 'cpu' and not d.startswith('cuda'):
        raise ValueError(f"device must be 'auto', 'cpu' or 'cuda[:N]', got {device!r}")
    return d


@dataclass
class PipelineConfig:
    """Every core setting.

    The ROS node exposes each as a parameter of the same name (descriptor, range and live-ness
    from the field metadata, see :mod:`poseflow_ros.settings`).
    """

    device: str = setting(
        'auto',
        "Compute device for every stage: 'auto' (cuda when available, else cpu), 'cpu', 'cuda' or "
        "'cuda:N'.",
    )
    models_dir: str = setting(
        '',
        "Directory with the model files; '' = $POSEFLOW_MODELS or ~/.cache/poseflow_ros/models "
        '(fill it with: python -m poseflow_ros.models fetch).',
    )
    detector_model: str = setting(
        '', "Path to the person-detector ONNX; '' = RTMDet-nano person from models_dir."
    )
    detector_score_threshold: float = setting(
        DEFAULT_SCORE_THRESHOLD,
        'Person boxes scoring below this are discarded before pose and tracking.',
        range=(0.0, 1.0),
        live=True,
    )
    detector_runtime: str = setting(
        'auto',
        "Person-detector execution: 'auto' (torch on CUDA, onnxruntime on CPU), 'onnxruntime' "
        "(on CUDA needs onnxruntime-gpu) or 'torch' (the same ONNX model run by PyTorch).",
        choices=DETECTOR_RUNTIMES,
    )
    detector_input_size: int = setting(
        320,
        "Long side of the person detector input in pixels, a multiple of 32 (RTMDet-nano was "
        "exported at 320; larger finds smaller people at about (size/320)^2 the cost: 448 finds "
        "20 points more of the people in street scenes at 640x360 and 77 % of the MOT17 "
        "pedestrians, for 1.8x the detector's CPU time; 960 with detector_canvas fit 93 % on "
        "1080p frames).",
        range=(32, 4096),
    )
    detector_canvas: str = setting(
        'square',
        "Detector input canvas: 'square' (letterbox padded to size x size, as exported) or 'fit' "
        '(pad only to the next multiple of 32: cheaper for wide frames at large sizes, a few '
        'recall points lower at the same size).',
        choices=CANVASES,
    )
    detector_tile_size: int = setting(
        0,
        'Tiled detection of large frames: overlapping square tiles of this many frame pixels, '
        'each at detector_input_size, plus the whole frame, merged (0 = off; a frame that fits '
        'in one tile is detected in one pass).',
        range=(0, 16384),
    )
    detector_tile_overlap: float = setting(
        0.25,
        'Overlap of neighbouring detector tiles, as a fraction of the tile size.',
        range=(0.0, 0.9),
    )
    detection_interval: int = setting(
        1,
        "Run the person detector on every N-th frame only; the frames between take their boxes "
        "(and, with pose_crop temporal, their crops) from the previous frame's poses, as "
        "RTMPose's real-time pipeline does. A frame after a person was lost, or whose poses do "
        "not give a box, is detected anyway. 1 = every frame.",
        range=(1, 100),
        live=True,
    )
    max_persons: int = setting(
        20,
        'At most this many highest-scoring persons get a pose per frame (CUDA graphs are captured '
        'for batch buckets up to this at configure).',
        range=(1, 1000),
    )
    pose_backend: str = setting(
        'blazepose',
        "Pose model: 'blazepose' (BlazePose-full port, offline default) or 'mmpose' "
        '(MMPose config + local checkpoint).',
        choices=('blazepose', 'mmpose'),
    )
    fp16: bool = setting(False, 'Half-precision pose model (CUDA only; ignored on CPU).')
    cuda_graph: bool = setting(
        True,
        'On CUDA, replay the detector and pose forwards from CUDA graphs (captured at configure '
        'for batch-size buckets up to max_persons; falls back to eager with a warning if a '
        'capture fails). Ignored on CPU. Old name: cuda_graphs (still accepted, with a warning).',
    )
    pose_runtime: str = setting(
        'auto',
        "BlazePose execution: 'auto' (on CPU openvino when pose_precision is bf16, else "
        "onnxruntime when onnx is installed, else torch; torch on CUDA), "
        "'torch' (the PyTorch port directly; CUDA/FP16), 'onnxruntime' (the port exported to ONNX "
        "once and optimised, CPU) or 'openvino' (that ONNX on OpenVINO's CPU plugin, in "
        'pose_precision; needs the openvino package; in fp32 the same landmarks as onnxruntime, '
        'no faster since the ONNX passes, slower when other processes load the cores).',
        choices=BLAZEPOSE_RUNTIMES,
    )
    pose_precision: str = setting(
        'auto',
        "BlazePose arithmetic on the CPU: 'auto' (bf16 where it can run: device cpu, pose_runtime "
        "auto or openvino, the openvino package and a CPU with bf16 units, AVX512_BF16 or AMX; "
        "fp32 everywhere else), 'fp32' or 'bf16' (bfloat16 on OpenVINO's CPU plugin; pose_runtime "
        "'auto' then means openvino; fails at start-up where it cannot run). bf16 ran the pose "
        'forward 1.9-2x as fast on a 2-core AVX512_BF16 CPU; its landmarks are 1 crop px from '
        "fp32's at the median (2 % of the keypoints beyond 5 % of the person height), for no AP "
        'difference measurable on 50 labelled persons (see the README, Real time on a CPU). '
        "The node's stats name the precision used. Use fp16 on CUDA.",
        choices=POSE_PRECISIONS,
    )
    pose_crop: str = setting(
        'temporal',
        "BlazePose crops: 'box' (the box padded to a square), 'refine' (+ pose_refine_passes "
        "passes on the model's alignment ROI: hip-centred, scaled, rotated upright) or "
        "'temporal' (a person seen in the previous frame, matched by box overlap, is cropped "
        "from that frame's ROI, as MediaPipe tracks; new people from the box + "
        'pose_refine_passes). Falls back to the box per person when the ROI is unreliable.',
        choices=CROP_MODES,
    )
    pose_refine_passes: int = setting(
        1,
        "Extra BlazePose passes on the alignment ROI per new person ('refine': every person every "
        "frame), each one forward; 0 = none.",
        range=(0, 4),
    )
    pose_crop_border: str = setting(
        'replicate',
        "What BlazePose crops show outside the image: 'replicate' (edge pixels, as MediaPipe) "
        "or 'zero' (black).",
        choices=('zero', 'replicate'),
    )
    pose_flip_test: bool = setting(
        False,
        'BlazePose also runs every crop mirrored (in the same batch) and averages the two; '
        'twice the crops (cheap on a GPU, 2x the pose time on a CPU) for no clear AP gain on '
        'the COCO sample (fewer people without a skeleton when their hips are out of view).',
    )
    pose_heatmap_refine: bool = setting(
        True,
        "BlazePose landmarks refined from the model's own 64x64 heatmaps, as MediaPipe decodes "
        'them (weighted mean in a 7x7 window): COCO-sample AP from ground-truth boxes 54 -> 64, '
        'for about 1.15x the pose time per person on a CPU (the heatmap head). False: the '
        'regressed landmarks only.',
    )
    mmpose_config: str = setting(
        '',
        'MMPose top-down config: a file path or the name of a config shipped in the mmpose wheel.',
    )
    mmpose_checkpoint: str = setting('', 'Local MMPose checkpoint (.pth) for mmpose_config.')
    mmpose_checkpoint_sha256: str = setting(
        '', "Expected sha256 of mmpose_checkpoint ('' = do not check)."
    )
    embedder: str = setting(
        'none',
        "Appearance features for tracking: 'none', 'color' (keypoint-anchored colour) or "
        "'mobilenet' (ImageNet MobileNetV2).",
        choices=('none', 'color', 'mobilenet'),
    )
    num_threads: int = setting(
        0, 'CPU threads for torch/onnxruntime/openvino (0 = library default).', range=(0, 1024)
    )
    tracker: dict = field(default_factory=dict)  # TrackerConfig overrides
    posture: dict = field(default_factory=dict)  # PostureConfig overrides
    depth: dict = field(default_factory=dict)  # DepthConfig overrides (3D from depth / camera)

    def __post_init__(self):
        check_fields(self)
        DepthConfig.from_dict(self.depth)  # names a bad depth.* value (and min < max range)

    # old name -> new name of renamed settings: from_dict and the node's parameters still accept
    # the old name (warned once), so params files written before the rename keep working
    RENAMED: ClassVar[Dict[str, str]] = {'cuda_graphs': 'cuda_graph'}

    @property
    def cuda_graphs(self) -> bool:
        """Old name of :attr:`cuda_graph` (warns once)."""
        warn_renamed('cuda_graphs', 'cuda_graph')
        return self.cuda_graph

    @cuda_graphs.setter
    def cuda_graphs(self, value: bool) -> None:
        warn_renamed('cuda_graphs', 'cuda_graph')
        self.cuda_graph = value

    @classmethod
    def from_dict(cls, d: dict) -> 'PipelineConfig':
        d = dict(d)
        for old, new in cls.RENAMED.items():
            if old in d:
                warn_renamed(old, new)
                value = d.pop(old)
                if new in d and d[new] != value:
                    raise ValueError(f'{old} (the old name of {new}) and {new} disagree')
                d[new] = value
        nested = {k: d.pop(k) for k in ('tracker', 'posture', 'depth') if k in d}
        return cls(**check_values(cls, d, 'pipeline'), **nested)

    def to_dict(self) -> dict:
        return asdict(self)


class PosePipeline:
    """Runs the stages on one frame at a time; keeps the tracker state between frames."""

    def __init__(
        self,
        detector: PersonDetector,
        pose: PoseEstimator,
        tracker,
        embedder=None,
        max_persons: int = 20,
        posture: PostureConfig = None,
        depth: DepthConfig = None,
    ):
        self.posture = posture or PostureConfig()
        self.depth_stage = DepthStage(depth)  # runs when a frame brings depth or a camera
        self.detection_interval = 1
        self._carry: Optional[Detections] = None  # next frame's boxes from this frame's poses
        self._since_detect = 0  # frames since the detector last ran
        self._ahead_count = 0  # frames seen by detect_ahead
        self.detector = detector
        self.pose = pose
        self.tracker = tracker
        self.embedder = embedder
        self.max_persons = int(max_persons)
        # the previous frame's alignment ROIs (matched to this frame's boxes), for pose_crop
        # 'temporal'
        self.roi_memory = RoiMemory() if pose.crop_mode == 'temporal' else None

    @classmethod
    def from_config(cls, cfg: PipelineConfig) -> 'PosePipeline':
        from .track import Tracker, TrackerConfig

        device = resolve_device(cfg.device)
        det_runtime = resolve_runtime(cfg.detector_runtime, device)  # validates detector_runtime
        if cfg.num_threads > 0:
            import torch

            torch.set_num_threads(cfg.num_threads)
        det_kw = {'cuda_graph': cfg.cuda_graph} if det_runtime == 'torch' else {}
        det = make_detector(
            det_runtime,
            model_path=cfg.detector_model,
            models_dir=cfg.models_dir,
            device=device,
            score_threshold=cfg.detector_score_threshold,
            num_threads=cfg.num_threads,
            input_size=cfg.detector_input_size,
            canvas=cfg.detector_canvas,
            tile_size=cfg.detector_tile_size,
            tile_overlap=cfg.detector_tile_overlap,
            **det_kw,
        )
        pose = make_pose_estimator(
            cfg.pose_backend,
            device=device,
            fp16=cfg.fp16,
            models_dir=cfg.models_dir,
            mmpose_config=cfg.mmpose_config,
            mmpose_checkpoint=cfg.mmpose_checkpoint,
            mmpose_checkpoint_sha256=cfg.mmpose_checkpoint_sha256,
            runtime=cfg.pose_runtime,
            precision=cfg.pose_precision,
            num_threads=cfg.num_threads,
            cuda_graph=cfg.cuda_graph,
            heatmap_refine=cfg.pose_heatmap_refine,  # built once with it, not rebuilt after
        )
        # BlazePose: crops from its alignment landmarks (a backend without them keeps box crops)
        pose.set_crop(
            cfg.pose_crop, cfg.pose_refine_passes, cfg.pose_crop_border, cfg.pose_flip_test
        )
        embedder = None
        if cfg.embedder and cfg.embedder != 'none':
            from .track.embed import make_embedder

            embedder = make_embedder(cfg.embedder, device=device, models_dir=cfg.models_dir)
        tracker = Tracker(TrackerConfig.from_dict(dict(cfg.tracker)))
        pipe = cls(
            det,
            pose,
            tracker,
            embedder,
            cfg.max_persons,
            PostureConfig(**cfg.posture),
            DepthConfig.from_dict(cfg.depth),
        )
        pipe.detection_interval = int(cfg.detection_interval)
        return pipe

    def reset(self) -> None:
        """Forget everything about the stream so far.

        That is tracks, ROIs, 3D history and the detection schedule; track ids are never reused.
        """
        self.tracker.reset()
        self.depth_stage.reset()
        if self.roi_memory is not None:
            self.roi_memory.reset()
        self._carry, self._since_detect, self._ahead_count = None, 0, 0

    def apply_live_settings(self, cfg: PipelineConfig) -> None:
        """Apply the ``live`` settings of ``cfg`` to the running stages.

        The others need a rebuild.
        """
        tracker_cfg = type(self.tracker.config).from_dict(dict(cfg.tracker))
        posture = PostureConfig(**cfg.posture)
        self.tracker.set_config(tracker_cfg)
        self.detector.score_threshold = float(cfg.detector_score_threshold)
        self.posture = posture
        self.depth_stage.set_config(DepthConfig.from_dict(cfg.depth))
        self.detection_interval = int(cfg.detection_interval)

    # a detector box around a person's keypoints, as multiples of the keypoint extent's height
    # (medians on walk.small.mp4: RTMDet boxes reach 7.5 % of it left and right, 8.6 % above, 9.5 %
    # below)
    BOX_FROM_KEYPOINTS = (0.075, 0.086, 0.075, 0.095)  # left, top, right, bottom
    MIN_KEYPOINTS_FOR_BOX = 6
    # keypoints at least this confident span the box: the drawing level, since a box needs where
    # the joints are, not what they mean (see coco.KEYPOINT_SCORE_VISIBLE)
    KEYPOINT_THRESHOLD_FOR_BOX = KEYPOINT_SCORE_VISIBLE

    def boxes_from_poses(self, dets: Detections, poses: Poses, tracks) -> Optional[Detections]:
        """Make the next frame's boxes when it is not detected.

        Each person's keypoint extent, padded to the size the detector gives, with the same scores;
        None (detect the next frame) when a person has too few confident keypoints, a track was
        lost or nobody is there.
        """
        if not len(dets) or any(t.time_since_update == 1 for t in tracks):
            return None
        conf = poses.scores >= self.KEYPOINT_THRESHOLD_FOR_BOX
        if (conf.sum(1) < self.MIN_KEYPOINTS_FOR_BOX).any():
            return None
        kp = np.where(conf[..., None], poses.keypoints, np.nan)
        lo, hi = np.nanmin(kp, 1), np.nanmax(kp, 1)  # (N,2)
        h = np.maximum(hi[:, 1] - lo[:, 1], 1.0)
        pl, pt, pr, pb = self.BOX_FROM_KEYPOINTS
        boxes = np.stack(
            [lo[:, 0] - pl * h, lo[:, 1] - pt * h, hi[:, 0] + pr * h, hi[:, 1] + pb * h], 1
        )
        return Detections(boxes, dets.scores)

    def detect_ahead(self, image: np.ndarray) -> Optional[Detections]:
        """Detect one frame ahead, for a caller that does so (:mod:`poseflow_ros.overlap`).

        Returns the detections of a frame that the detection_interval schedules for detection,
        else None (:meth:`process` then takes the boxes from the previous frame's poses, or
        detects itself when it must).
        """
        k, self._ahead_count = self._ahead_count, self._ahead_count + 1
        return (
            self.detect(image)
            if self.detection_interval <= 1 or k % self.detection_interval == 0
            else None
        )

    def warmup(self, image_hw=(480, 640)) -> None:
        self.detector.warmup(image_hw)
        self.pose.warmup(image_hw, self.max_persons)

    def detect(self, image: np.ndarray) -> Detections:
        """Person boxes of an image, at most ``max_persons`` (the highest scores)."""
        dets = self.detector.detect(image)
        if len(dets) > self.max_persons:
            dets = dets.select(np.argsort(-dets.scores)[: self.max_persons])
        return dets

    def process(
        self,
        frame: Frame,
        detections: Optional[Detections] = None,
        detect_ms: Optional[float] = None,
    ) -> FrameResult:
        """All stages on one frame.

        ``detections`` (from :meth:`detect`, e.g. run ahead in another thread by
        :mod:`poseflow_ros.overlap`, with its ``detect_ms``) skips the detector here.
        """
        timings = {}
        t0 = time.perf_counter()
        carried = False
        if detections is not None:
            dets, self._since_detect = detections, 0
        elif (
            self.detection_interval > 1
            and self._carry is not None
            and self._since_detect + 1 < self.detection_interval
        ):
            dets, carried = self._carry, True  # boxes from the previous frame's poses
            self._since_detect += 1
        else:
            dets, self._since_detect = self.detect(frame.image), 0
        t1 = time.perf_counter()
        timings['detect'] = float(detect_ms or 0.0) if detections is not None else (t1 - t0) * 1e3
        if not len(dets):
            poses = Poses.empty()
        elif self.roi_memory is not None:  # crops from the previous frame's ROIs where they fit
            poses = self.roi_memory.estimate(self.pose, frame.image, dets.boxes)
        else:
            poses = self.pose.estimate(frame.image, dets.boxes)
        t2 = time.perf_counter()
        crop_ms = float(self.pose.last_crop_ms) if len(dets) else 0.0
        timings['crop'] = crop_ms
        timings['pose'] = (t2 - t1) * 1e3 - crop_ms
        feats: Optional[np.ndarray] = None
        if self.embedder is not None and len(dets):
            feats = self.embedder.embed(frame.image, dets.boxes, poses.keypoints, poses.scores)
        t3 = time.perf_counter()
        if self.embedder is not None:
            timings['embed'] = (t3 - t2) * 1e3
        tracks = self.tracker.update(
            TrackerInput(
                dets.boxes,
                dets.scores,
                poses.keypoints,
                poses.scores,
                feats,
                image_size=frame.image.shape[1::-1],
                stamp=frame.stamp,
            )
        )
        t4 = time.perf_counter()
        timings['track'] = (t4 - t3) * 1e3
        if self.roi_memory is not None:
            self.roi_memory.remember(dets.boxes, poses)
        self._carry = (
            self.boxes_from_poses(dets, poses, tracks) if self.detection_interval > 1 else None
        )
        if carried:
            timings['detect_skipped'] = 1.0
        angles, postures, symmetry = self.analyse(tracks)
        tracks_3d = None
        self.depth_stage.forget(self.tracker.ended_ids)
        if frame.depth is not None or frame.camera is not None:
            t5 = time.perf_counter()
            tracks_3d = self.depth_stage.process(
                tracks, frame.camera, frame.depth, poses.keypoints_3d, frame.stamp, frame.shape
            )
            timings['depth'] = (time.perf_counter() - t5) * 1e3
        return FrameResult(
            frame,
            dets,
            poses,
            tracks,
            timings_ms=timings,
            joint_angles=angles,
            postures=postures,
            symmetry=symmetry,
            tracks_3d=tracks_3d,
        )

    def analyse(self, tracks):
        """Joint angles (T,8), posture labels (T,) and left/right symmetry scores (T,).

        For the reported tracks; a symmetry score is NaN where a side is not visible.
        """
        angles = np.full((len(tracks), 8), np.nan, np.float32)
        postures = np.zeros((len(tracks),), np.uint8)
        symmetry = np.full((len(tracks),), np.nan, np.float32)
        rows = [i for i, t in enumerate(tracks) if t.keypoints is not None]
        if not rows:
            return angles, postures, symmetry
        kp = np.stack([tracks[i].keypoints for i in rows])
        sc = np.stack([tracks[i].keypoint_scores for i in rows])
        angles[rows] = joint_angles(kp, sc, self.posture.keypoint_threshold)  # all tracks at once
        for j, i in enumerate(rows):
            postures[i] = classify_posture(kp[j], sc[j], self.posture, angles[i])
        symmetry[rows] = symmetry_score(angles[rows])
        return angles, postures, symmetry
