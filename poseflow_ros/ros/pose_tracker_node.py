"""pose_tracker: sensor_msgs/Image in -> TrackedPoseArray + MarkerArray (+ debug image) out.

Run directly:
    pose_tracker --ros-args --params-file config/pose_tracking.yaml -r image:=/camera/image_raw
Topics (relative, remappable):
    sub  image              sensor_msgs/Image            (image_transport: raw)
    sub  image/compressed   sensor_msgs/CompressedImage  (image_transport: compressed)
    pub  tracked_poses      poseflow_ros/TrackedPoseArray (header copied from the image)
    pub  markers            visualization_msgs/MarkerArray
    pub  debug_image        sensor_msgs/Image (bgr8), only when publish_debug_image is true
    pub  /diagnostics       diagnostic_msgs/DiagnosticArray (1 Hz: rates, drops, latency, stage ms)
Latest frame wins: a frame that arrives while one is being processed replaces the waiting one
(the replaced frame is counted as dropped); nothing queues without bound.
"""
from __future__ import annotations

import sys
import threading
import time
from dataclasses import asdict, fields

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from sensor_msgs.msg import CompressedImage, Image
from visualization_msgs.msg import MarkerArray

from .. import models
from ..analytics import PostureConfig
from ..decode import ImageError
from ..detect import DETECTOR_RUNTIMES
from ..pipeline import PipelineConfig, PosePipeline
from ..render import draw_tracks
from ..types import Frame
from .conversions import bgr_to_image, copy_header, image_to_bgr, tracks_to_msg
from .markers import MarkerBuilder
from .params import ParameterError, declare, declare_group, make_qos
from .stats import StageStats

from poseflow_ros.msg import TrackedPoseArray

_PIPE_HELP = {
    'device': "Compute device for every stage: 'auto' (cuda when available, else cpu), 'cpu', 'cuda' or 'cuda:N'.",
    'models_dir': "Directory with the model files; '' = $POSEFLOW_MODELS or ~/.cache/poseflow_ros/models "
                  "(fill it with: python -m poseflow_ros.models fetch).",
    'detector_model': "Path to the person-detector ONNX; '' = RTMDet-nano person from models_dir.",
    'detector_score_threshold': 'Person boxes scoring below this are discarded before pose and tracking.',
    'detector_runtime': "Person-detector execution: 'auto' (torch on CUDA, onnxruntime on CPU), 'onnxruntime' "
                        "(on CUDA needs onnxruntime-gpu) or 'torch' (the same ONNX model run by PyTorch).",
    'cuda_graphs': 'On CUDA, replay the detector and pose forwards from CUDA graphs (captured at start-up '
                   'for batch-size buckets up to max_persons; falls back to eager with a warning if a capture '
                   'fails). Ignored on CPU.',
    'max_persons': 'At most this many highest-scoring persons get a pose per frame.',
    'pose_backend': "Pose model: 'blazepose' (BlazePose-full port, offline default) or 'mmpose' "
                    '(MMPose config + local checkpoint).',
    'fp16': 'Half-precision pose model (CUDA only; ignored on CPU).',
    'pose_runtime': "BlazePose execution: 'auto' (onnxruntime on CPU when onnx is installed, else torch), "
                    "'torch' (the PyTorch port directly; CUDA/FP16) or 'onnxruntime' (the port exported to "
                    'ONNX once, CPU).',
    'mmpose_config': 'MMPose top-down config: a file path or the name of a config shipped in the mmpose wheel.',
    'mmpose_checkpoint': 'Local MMPose checkpoint (.pth) for mmpose_config.',
    'mmpose_checkpoint_sha256': "Expected sha256 of mmpose_checkpoint ('' = do not check).",
    'embedder': "Appearance features for tracking: 'none', 'color' (keypoint-anchored colour) or "
                "'mobilenet' (ImageNet MobileNetV2).",
    'num_threads': 'CPU threads for torch/onnxruntime (0 = library default).',
}
_POSTURE_HELP = {
    'keypoint_threshold': 'Posture/angles: keypoints scoring below this count as not visible.',
    'arms_raised_margin': 'arms_raised: wrist above its shoulder by this fraction of the torso length.',
    'one_arm_counts': 'arms_raised with one raised arm even when the other arm is visibly down.',
    'sitting_max_hip_angle': 'sitting: hip angle(s) (shoulder-hip-knee, degrees) below this.',
    'standing_min_hip_angle': 'standing: hip angle(s) at least this (degrees).',
    'standing_min_knee_angle': 'standing: knee angle(s) at least this (degrees).',
    'upright_max_torso_tilt': 'standing: torso at most this many degrees from vertical.',
}
_CHOICES = {'detector_runtime': DETECTOR_RUNTIMES, 'pose_backend': ('blazepose', 'mmpose'),
            'pose_runtime': ('auto', 'torch', 'onnxruntime'), 'embedder': ('none', 'color', 'mobilenet')}


class PoseTrackerNode(Node):
    def __init__(self, pipeline: PosePipeline = None, **kwargs):
        super().__init__('pose_tracker', **kwargs)
        # ---- ROS-side parameters
        self.image_transport = declare(self, 'image_transport', 'raw',
                                       'Input kind: raw (sensor_msgs/Image on image) or compressed '
                                       '(sensor_msgs/CompressedImage on image/compressed).',
                                       choices=('raw', 'compressed'))
        reliability = declare(self, 'qos_reliability', 'best_effort',
                              'Reliability of the image subscription (sensor-data QoS otherwise).',
                              choices=('best_effort', 'reliable'))
        depth = declare(self, 'qos_depth', 1, 'History depth of the image subscription (latest frame wins).',
                        range_=(1, 100))
        self.publish_markers = declare(self, 'publish_markers', True, 'Publish RViz skeleton markers on markers.')
        self.publish_debug = declare(self, 'publish_debug_image', False,
                                     'Publish the annotated image on debug_image (costs a few ms per frame).')
        self.expected_w = declare(self, 'expected_width', 0,
                                  'Reject frames whose width differs (0 = accept any size).', range_=(0, 16384))
        self.expected_h = declare(self, 'expected_height', 0,
                                  'Reject frames whose height differs (0 = accept any size).', range_=(0, 16384))
        self.kp_threshold = declare(self, 'keypoint_score_threshold', 0.3,
                                    'Keypoints scoring below this are not drawn (markers, debug image).',
                                    range_=(0.0, 1.0))
        mdepth = declare(self, 'marker_depth', 2.0,
                         'Distance (m) of the plane on which 2D skeletons are drawn in the image frame.',
                         range_=(0.01, 100.0))
        mfocal = declare(self, 'marker_focal_px', 0.0,
                         'Focal length (px) used to place markers; 0 = image width.', range_=(0.0, 100000.0))
        self.stats_file = declare(self, 'stats_file', '',
                                  "Write frame counts, track ids and per-stage ms as JSON here at shutdown ('' = no).")
        self.log_throttle = declare(self, 'error_log_period', 2.0,
                                    'Minimum seconds between two repeated bad-input log messages.',
                                    range_=(0.0, 3600.0))
        # ---- core parameters (same names as PipelineConfig)
        defaults = PipelineConfig().to_dict()
        cfg = {}
        for f in fields(PipelineConfig):
            if f.name in ('tracker', 'posture'):
                continue
            cfg[f.name] = declare(self, f.name, defaults[f.name], _PIPE_HELP[f.name],
                                  choices=_CHOICES.get(f.name))
        from ..track import TrackerConfig
        tdefaults = TrackerConfig().to_dict()
        thelp = {f.name: f.metadata.get('help', '') for f in fields(TrackerConfig) if f.metadata.get('help')}
        cfg['tracker'] = declare_group(self, 'tracker', tdefaults, thelp)
        cfg['posture'] = declare_group(self, 'posture', asdict(PostureConfig()), _POSTURE_HELP)
        self.config = PipelineConfig.from_dict(cfg)

        if pipeline is None:
            pipeline = PosePipeline.from_config(self.config)
            # first frames at full speed: models loaded, CUDA graphs captured for up to max_persons
            pipeline.warmup()
        self.pipeline = pipeline
        self.get_logger().info(
            f'pipeline ready: detector={self.pipeline.detector.name} pose={self.pipeline.pose.name} '
            f'device={getattr(self.pipeline.pose, "device", "?")} embedder={self.config.embedder}')

        # ---- I/O
        qos = make_qos(reliability, depth)
        if self.image_transport == 'raw':
            self.sub = self.create_subscription(Image, 'image', self._on_image, qos)
        else:
            self.sub = self.create_subscription(CompressedImage, 'image/compressed', self._on_image, qos)
        self.pub_poses = self.create_publisher(TrackedPoseArray, 'tracked_poses', 10)
        self.pub_markers = self.create_publisher(MarkerArray, 'markers', 10) if self.publish_markers else None
        self.pub_debug = self.create_publisher(Image, 'debug_image', 2) if self.publish_debug else None
        self.pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.markers = MarkerBuilder(depth=mdepth, focal_px=mfocal, kp_threshold=self.kp_threshold)

        self.stats = StageStats()
        self.track_ids = set()
        self.persons_per_frame = []
        self._cv = threading.Condition()
        self._latest = None
        self._running = True
        self._frame_index = 0
        self._last_rx = 0.0
        self._diag_prev = (time.monotonic(), 0, 0)
        self._worker = threading.Thread(target=self._work, name='pose_tracker_worker', daemon=True)
        self._worker.start()
        self.create_timer(1.0, self._publish_diagnostics)

    # ---------------------------------------------------------------- input
    def _on_image(self, msg) -> None:
        rx = time.perf_counter()
        with self._cv:
            if self._latest is not None:
                self.stats.count('dropped')
            self._latest = (msg, rx)
            self.stats.count('received')
            self._last_rx = time.monotonic()
            self._cv.notify()

    def _bad_input(self, text: str) -> None:
        self.stats.count('bad_input')
        self.get_logger().error(text, throttle_duration_sec=self.log_throttle)

    # ---------------------------------------------------------------- worker
    def _work(self) -> None:
        while True:
            with self._cv:
                while self._running and self._latest is None:
                    self._cv.wait(0.5)
                if not self._running:
                    return
                msg, rx = self._latest
                self._latest = None
            try:
                self._process(msg, rx)
            except Exception as e:  # noqa: BLE001 -- a message must never kill the node
                self.stats.count('errors')
                self.get_logger().error(f'frame skipped: {type(e).__name__}: {e}',
                                        throttle_duration_sec=self.log_throttle)

    def _process(self, msg, rx: float) -> None:
        t0 = time.perf_counter()
        try:
            image = image_to_bgr(msg)
        except ImageError as e:
            self._bad_input(f'bad image on {self.sub.topic_name}: {e}')
            return
        h, w = image.shape[:2]
        if (self.expected_w and w != self.expected_w) or (self.expected_h and h != self.expected_h):
            self._bad_input(f'frame size {w}x{h} differs from expected_width x expected_height = '
                            f'{self.expected_w}x{self.expected_h}; frame skipped')
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        frame = Frame(image, stamp, msg.header.frame_id, self._frame_index)
        self._frame_index += 1
        t1 = time.perf_counter()
        result = self.pipeline.process(frame)
        t2 = time.perf_counter()
        header = copy_header(msg.header)
        self.pub_poses.publish(tracks_to_msg(result.tracks, header, result.joint_angles, result.postures))
        if self.pub_markers is not None:
            self.pub_markers.publish(self.markers.build(result.tracks, header, w, h))
        if self.pub_debug is not None:
            self.pub_debug.publish(bgr_to_image(draw_tracks(image, result.tracks, self.kp_threshold),
                                                header))
        t3 = time.perf_counter()
        timings = {'decode': (t1 - t0) * 1e3, **result.timings_ms, 'publish': (t3 - t2) * 1e3,
                   'total': (t3 - t0) * 1e3, 'queue_wait': (t0 - rx) * 1e3}
        now = self.get_clock().now().nanoseconds * 1e-9
        if stamp > 0 and abs(now - stamp) < 60.0:
            timings['latency'] = (now - stamp) * 1e3
        self.stats.add(timings)
        self.stats.count('processed')
        self.track_ids.update(t.track_id for t in result.tracks)
        self.persons_per_frame.append(len(result.tracks))

    # ---------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        t, rx0, px0 = self._diag_prev
        now = time.monotonic()
        rx, px = self.stats.counters['received'], self.stats.counters['processed']
        dt = max(now - t, 1e-6)
        self._diag_prev = (now, rx, px)
        s = self.stats.summary(last=100)
        st = DiagnosticStatus(name=f'{self.get_name()}: pose tracking', hardware_id='poseflow_ros')
        if rx == 0 or now - self._last_rx > 5.0:
            st.level, st.message = DiagnosticStatus.WARN, 'no images received in the last 5 s'
        else:
            st.level, st.message = DiagnosticStatus.OK, 'tracking'
        vals = {'input_rate_hz': (rx - rx0) / dt, 'output_rate_hz': (px - px0) / dt,
                'frames_received': rx, 'frames_processed': px,
                'frames_dropped': self.stats.counters['dropped'],
                'bad_input_frames': self.stats.counters['bad_input'],
                'distinct_track_ids': len(self.track_ids)}
        for k, v in s.items():
            vals[f'{k}_ms_mean'] = v['mean']
        st.values = [KeyValue(key=k, value=f'{v:.3f}' if isinstance(v, float) else str(v))
                     for k, v in vals.items()]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)

    def stats_report(self) -> dict:
        """Counters, per-stage ms, persons per frame and track ids so far (what stats_file holds)."""
        return {'counters': dict(self.stats.counters), 'stage_ms': self.stats.summary(),
                'persons_per_frame': list(self.persons_per_frame),
                'track_ids': sorted(int(t) for t in self.track_ids),
                'device': str(getattr(self.pipeline.pose, 'device', '')),
                'pose_backend': self.config.pose_backend,
                'pose_runtime': str(getattr(self.pipeline.pose, 'runtime', '')),
                'detector': self.pipeline.detector.name, 'embedder': self.config.embedder}

    def destroy_node(self):
        if not hasattr(self, '_worker'):       # constructor failed before the worker existed
            return super().destroy_node()
        with self._cv:
            self._running = False
            self._cv.notify_all()
        if self._worker.is_alive() and threading.current_thread() is not self._worker:
            self._worker.join(timeout=5.0)
        if self.stats_file:
            import json
            from pathlib import Path
            Path(self.stats_file).parent.mkdir(parents=True, exist_ok=True)
            Path(self.stats_file).write_text(json.dumps(self.stats_report(), indent=1))
        return super().destroy_node()


def main(args=None) -> int:
    rclpy.init(args=args)
    try:
        node = PoseTrackerNode()
    except (models.ModelError, ParameterError, ValueError, FileNotFoundError, RuntimeError, ImportError) as e:
        print(f'[pose_tracker] FATAL: {e}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    import signal
    signal.signal(signal.SIGTERM, lambda *_: rclpy.try_shutdown())
    try:
        rclpy.spin(node)
    except (KeyboardInterrupt, rclpy.executors.ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
