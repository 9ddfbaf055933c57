"""pose_tracker: sensor_msgs/Image in -> TrackedPoseArray + MarkerArray (+ debug image) out.

A lifecycle node (``ros2 lifecycle get|set /pose_tracker ...``); with ``autostart`` (default) it
configures and activates itself at start-up, so one command runs it:
    pose_tracker --ros-args --params-file config/pose_tracking.yaml -r image:=/camera/image_raw
Lifecycle:
    configure   read and validate every parameter, load the models and warm them up (CUDA graphs);
                a failure leaves the node unconfigured, with the reason in the log
    activate    subscribe to the images, start the worker, publish
    deactivate  unsubscribe, finish the frame in flight, delete our markers in RViz (DELETEALL)
    cleanup     free the models
Topics (relative, remappable):
    sub  image              sensor_msgs/Image            (image_transport: raw)
    sub  image/compressed   sensor_msgs/CompressedImage  (image_transport: compressed)
    sub  camera_info        sensor_msgs/CameraInfo       (use_camera_info; intrinsics of the
                                                          colour image)
    sub  depth/image        sensor_msgs/Image            (use_depth; 16UC1 mm or 32FC1 m,
                                                          registered to the colour image, paired
                                                          with it by stamp)
    sub  depth/image/compressedDepth                     (use_depth and depth_transport:
                            sensor_msgs/CompressedImage   compressedDepth;
                                                          compressed_depth_image_transport PNG)
    pub  tracked_poses      poseflow_ros/TrackedPoseArray (header copied from the image)
    pub  markers            visualization_msgs/MarkerArray (lifetime marker_lifetime)
    pub  debug_image        sensor_msgs/Image (bgr8), when publish_debug_image is true
    pub  /diagnostics       diagnostic_msgs/DiagnosticArray (1 Hz: state, rates, drops, losses,
                                                          stage ms)
Parameters: one per setting of NodeSettings, PipelineConfig, TrackerConfig (``tracker.*``),
PostureConfig (``posture.*``) and DepthConfig (``depth.*``); those marked live change with
``ros2 param set`` while running, the others only while unconfigured (a set is refused with the
reason otherwise).

Latest frame wins: a frame that arrives while one is being processed replaces the waiting one (the
replaced frame is counted as dropped); nothing queues without bound. With use_depth the colour
frame and its depth image travel as a pair (message_filters ApproximateTimeSynchronizer,
sync_slop); a colour frame waits at most depth_wait for its depth, then goes on without it
(warned, rate-limited).

CameraInfo is not synchronised: the one stamped closest to the image within sync_slop, else the
latest valid one, is used (cameras often stamp it apart from the image).

Bad input (see poseflow_ros.decode) is skipped, counted (bad_input_frames) and logged at most once
per error_log_period per kind of problem. Memory is bounded: statistics are running summaries and
windows, and after large frames the process gives memory back (malloc_trim; the image subscription
is re-created once large frames stop, which releases the middleware's sample buffers).
"""

from __future__ import annotations

import collections
import ctypes
import gc
import json
import sys
import threading
import time
from pathlib import Path

import numpy as np
import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from message_filters import ApproximateTimeSynchronizer, SimpleFilter
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CameraInfo, CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from .. import models
from ..analytics import PostureConfig
from ..decode import ImageError
from ..depth import DepthConfig
from ..overlap import OverlapGovernor, SecondStage
from ..pipeline import PipelineConfig, PosePipeline
from ..render import draw_tracks
from ..stats import LogThrottle, LossMonitor, StageStats, TrackSummary
from ..track import TrackerConfig
from ..types import Frame
from .conversions import (
    bgr_to_image,
    camera_info_problem,
    camera_info_to_model,
    copy_header,
    depth_image_to_metres,
    image_to_bgr,
    result_to_msg,
)
from .markers import MarkerBuilder
from .node_settings import NodeSettings
from .process import (
    RMEM_NEEDED,
    ignore_stop_signals,
    install_stop_handlers,
    receive_buffer_limit,
    use_large_image_profile,
)
from .params import (
    ParameterError,
    declare_renamed,
    declare_settings,
    make_qos,
    offered_reliability,
    read_settings,
)

from poseflow_ros.msg import TrackedPoseArray

# start-up problems that name their fix (models missing, bad parameters, no GPU, ...)
STARTUP_ERRORS = (
    models.ModelError,
    ParameterError,
    ValueError,
    FileNotFoundError,
    RuntimeError,
    ImportError,
)
_SUCCESS, _FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
LOSS_WARN_PERIOD_S = 60.0
# memory given back after large frames (measured: 3840x2160 and 7680x4320 frames left the process
# ~140 MB bigger, held by the DDS reader's sample buffers and by freed-but-kept heap memory)
TRIM_ABOVE_BYTES = 8 * 1024 * 1024  # after processing a frame larger than this: malloc_trim(0)
RESUBSCRIBE_AFTER_S = 3.0  # no such frame for this long: re-create the image subscription
SYNC_QUEUE = 4  # colour/depth messages per topic the synchroniser holds
CAMERA_INFO_KEEP = 8  # recent valid CameraInfo messages kept to match image stamps
_LOSS_FIX = (
    'publish the camera with RELIABLE QoS (the default qos_reliability: auto then subscribes '
    'reliably), or set qos_reliability: reliable if the publisher offers it; for a best-effort '
    'camera see the README section "Delivery: QoS and large images"'
)


class PoseTrackerNode(LifecycleNode):
    def __init__(self, pipeline: PosePipeline = None, **kwargs):
        super().__init__('pose_tracker', **kwargs)
        self._injected_pipeline = pipeline  # tests pass a ready pipeline; configure then uses it
        self._specs = {}
        self._specs.update(declare_settings(self, NodeSettings))
        self._specs.update(declare_settings(self, PipelineConfig))
        declare_renamed(self, PipelineConfig.RENAMED)  # old names: params files from before
        self._specs.update(declare_settings(self, TrackerConfig, 'tracker.'))
        self._specs.update(declare_settings(self, PostureConfig, 'posture.'))
        self._specs.update(declare_settings(self, DepthConfig, 'depth.'))
        self.add_on_set_parameters_callback(self._on_set_parameters)
        self.add_post_set_parameters_callback(self._after_set_parameters)
        self.settings = NodeSettings(**read_settings(self, NodeSettings))
        self.config: PipelineConfig = None
        self.pipeline: PosePipeline = None
        self.configure_error = ''

        self.stats = StageStats()
        self.losses = LossMonitor()
        self.tracks_summary = TrackSummary()
        self._log_throttle = LogThrottle(self.settings.error_log_period)
        self.last_bad_input = ''
        self._large_rx = 0.0  # monotonic time of the last large frame (0: none since subscribing)
        self.memory_releases = 0
        self._trims_pending = 0  # heap trims still to do after a release (diagnostics timer)
        self._cv = threading.Condition()
        self._pipe_lock = threading.Lock()  # process() vs live parameter changes
        self._latest = None
        self._running = False
        self._worker = None
        self._stage2 = None
        self._governor = None  # overlap_when_behind: turns the overlap on while behind
        self._overlap_frames = 0  # frames whose stages overlapped (stats)
        self._frame_index = 0
        self._last_rx = 0.0
        self._diag_prev = (time.monotonic(), 0, 0)
        self._problems_prev = 0  # input_problems at the last diagnostics message
        self.sub = None
        self._sub_reliability = None
        self.sub_depth = self.sub_info = None  # depth/image and camera_info subscriptions
        self._depth_reliability = self._info_reliability = None
        self._sync = None  # colour/depth pairing (use_depth)
        self._sync_in = None
        # (stamp s, CameraInfo), valid ones
        self._infos = collections.deque(maxlen=CAMERA_INFO_KEEP)
        self._camera_cache = (None, None, None)  # (CameraInfo, (w, h), CameraModel or None)
        self.camera_info_received = 0
        self.depth_received = 0
        self._last_depth_stamp = None
        self.last_input_problem = ''
        self._qos_timer = None
        self._loss_throttle = LogThrottle(LOSS_WARN_PERIOD_S)
        self._rmem_warned = False
        self.pub_poses = self.pub_markers = self.pub_debug = None
        self.markers = None
        self.pub_diag = self.create_publisher(DiagnosticArray, '/diagnostics', 10)
        self.create_timer(1.0, self._publish_diagnostics)

    # ---------------------------------------------------------------- parameters
    def state_label(self) -> str:
        return self._state_machine.current_state[1]

    def _read_config(self, pending=None):
        """Build NodeSettings + PipelineConfig from the current parameters.

        With ``pending`` ({name: value}), from the parameters with those values applied.
        ParameterError/ValueError if a value or a rule between values is bad.
        """
        ns = NodeSettings(**read_settings(self, NodeSettings, pending=pending))
        cfg = read_settings(self, PipelineConfig, pending=pending, renamed=PipelineConfig.RENAMED)
        cfg['tracker'] = read_settings(self, TrackerConfig, 'tracker.', pending)
        cfg['posture'] = read_settings(self, PostureConfig, 'posture.', pending)
        cfg['depth'] = read_settings(self, DepthConfig, 'depth.', pending)
        cfg = PipelineConfig.from_dict(cfg)
        DepthConfig.from_dict(cfg.depth)  # the rules between depth fields
        TrackerConfig.from_dict(cfg.tracker)  # the rules between tracker fields
        return ns, cfg

    def _on_set_parameters(self, params) -> SetParametersResult:
        state = self.state_label()
        renamed = PipelineConfig.RENAMED
        for p in params:
            sp = self._specs.get(renamed.get(p.name, p.name))  # an old name: its new one's rules
            if sp is None:
                continue
            if not sp.live and state in ('inactive', 'active'):
                fqn = self.get_fully_qualified_name()
                return SetParametersResult(
                    successful=False,
                    reason=(
                        f'{p.name} is read at configure and cannot change while the node is '
                        f'{state}: ros2 lifecycle set {fqn} deactivate (if active), ros2 '
                        f'lifecycle set {fqn} cleanup, set it, then configure and activate again'
                    ),
                )
            try:
                sp.check(p.value)
            except ValueError as e:
                return SetParametersResult(successful=False, reason=str(e))
        # rules between settings (e.g. tracker low <= high score threshold), on the would-be values
        try:
            self._read_config(
                {p.name: p.value for p in params if p.name in self._specs or p.name in renamed}
            )
        except ValueError as e:
            return SetParametersResult(successful=False, reason=str(e))
        return SetParametersResult(successful=True)

    def _after_set_parameters(self, params) -> None:
        """Apply accepted changes of live settings to the running node and pipeline."""
        if self.state_label() not in ('inactive', 'active') or self.pipeline is None:
            self.settings = NodeSettings(**read_settings(self, NodeSettings))
            return
        ns, cfg = self._read_config()
        with self._pipe_lock:
            self.pipeline.apply_live_settings(cfg)
            self.settings, self.config = ns, cfg
            self._apply_marker_settings()
            if self._sync is not None:
                self._sync.slop = Duration(seconds=ns.sync_slop)
        changed = ', '.join(f'{p.name}={p.value!r}' for p in params if p.name in self._specs)
        if changed:
            self.get_logger().info(f'parameters changed: {changed}')

    def _apply_marker_settings(self) -> None:
        s = self.settings
        m = self.markers
        m.depth, m.focal_px, m.kp_threshold, m.lifetime = (
            s.marker_depth,
            s.marker_focal_px,
            s.keypoint_score_threshold,
            s.marker_lifetime,
        )
        m.velocity_s = s.marker_velocity_s

    # ---------------------------------------------------------------- lifecycle
    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        t0 = time.perf_counter()
        try:
            self.settings, self.config = self._read_config()
            if self._injected_pipeline is not None:
                self.pipeline = self._injected_pipeline
                self.pipeline.apply_live_settings(self.config)
            else:
                pipeline = PosePipeline.from_config(self.config)
                # first frames at full speed: models loaded, CUDA graphs captured for up to
                # max_persons
                pipeline.warmup()
                self.pipeline = pipeline
        except Exception as e:  # noqa: BLE001 -- rclpy would swallow it: name the reason, stay unconfigured
            self.configure_error = (
                str(e) if isinstance(e, STARTUP_ERRORS) else f'{type(e).__name__}: {e}'
            )
            self.get_logger().error(
                f'configure failed, staying unconfigured: {self.configure_error}'
            )
            if not isinstance(e, STARTUP_ERRORS):
                import traceback

                self.get_logger().error(traceback.format_exc())
            self.pipeline = None
            return _FAILURE
        self.configure_error = ''
        self.pub_poses = self.create_lifecycle_publisher(TrackedPoseArray, 'tracked_poses', 10)
        self.pub_markers = self.create_lifecycle_publisher(MarkerArray, 'markers', 10)
        self.pub_debug = self.create_lifecycle_publisher(Image, 'debug_image', 2)
        s = self.settings
        self.markers = MarkerBuilder(
            s.marker_depth,
            s.marker_focal_px,
            s.keypoint_score_threshold,
            s.marker_lifetime,
            s.marker_velocity_s,
        )
        p = self.pipeline
        self.get_logger().info(
            f'configured in {time.perf_counter() - t0:.1f} s: detector={p.detector.name} '
            f'pose={p.pose.name} device={p.pose.device} embedder={self.config.embedder}'
        )
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        # lifecycle publishers first: the first frame is published
        ret = super().on_activate(state)
        if ret != _SUCCESS:
            return ret
        # a new stream: no tracks, 3D history, pose crops or boxes carried over from before
        # deactivate
        self.pipeline.reset()
        self._running = True
        # overlap: this worker decodes and detects frame t+1 while a second one runs the rest of
        # frame t (always with overlap, while behind the camera with overlap_when_behind)
        mode = self.settings.overlap_mode
        self._stage2 = (
            SecondStage(self._guarded_second, name='pose_tracker_stage2')
            if mode != 'off'
            else None
        )
        self._governor = OverlapGovernor() if mode == 'when_behind' else None
        self._overlap_frames = 0
        self._worker = threading.Thread(target=self._work, name='pose_tracker_worker', daemon=True)
        self._worker.start()
        s = self.settings
        self._infos.clear()
        self._camera_cache = (None, None, None)
        if s.use_depth:
            self._sync_in = (SimpleFilter(), SimpleFilter())
            self._sync = ApproximateTimeSynchronizer(self._sync_in, SYNC_QUEUE, s.sync_slop)
            self._sync.registerCallback(self._on_pair)
        self._subscribe(self._wanted_reliability())
        if s.use_camera_info:
            self._subscribe_info(self._wanted_reliability('camera_info'))
        if s.use_depth:
            self._subscribe_depth(self._wanted_reliability(self._depth_topic()))
        if s.qos_reliability == 'auto':
            self._qos_timer = self.create_timer(0.25, self._recheck_qos)
        extra = ''.join(
            f', {sub.topic_name} ({rel})'
            for sub, rel in (
                (self.sub_info, self._info_reliability),
                (self.sub_depth, self._depth_reliability),
            )
            if sub
        )
        self.get_logger().info(f'active: {self.sub.topic_name} ({self._sub_reliability}){extra}')
        return _SUCCESS

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._stop_io()
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        self._release()
        return super().on_cleanup(state)

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        if state.label == 'active':
            self._stop_io()
        self._release()
        return _SUCCESS

    def autostart(self) -> bool:
        """Configure + activate; False (reason in configure_error) when configure fails."""
        if self.trigger_configure() != _SUCCESS or self.state_label() != 'inactive':
            self.configure_error = self.configure_error or 'configure failed'
            return False
        return self.trigger_activate() == _SUCCESS

    def _stop_io(self) -> None:
        """Unsubscribe, let the frame in flight finish (still published), delete our markers."""
        if self._qos_timer is not None:
            self.destroy_timer(self._qos_timer)
            self._qos_timer = None
        for name in ('sub', 'sub_depth', 'sub_info'):
            if getattr(self, name) is not None:
                self.destroy_subscription(getattr(self, name))
                setattr(self, name, None)
        self._sync = self._sync_in = None
        with self._cv:
            self._running = False
            self._latest = None
            self._cv.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=10.0)
        self._worker = None
        if self._stage2 is not None:  # the frame in its second stage is finished and published
            self._stage2.wait_idle(10.0)
            self._stage2.close()
            self._stage2 = None
        if self.markers is not None and self.pub_markers is not None:
            stamp = self.get_clock().now().to_msg()
            self.pub_markers.publish(
                self.markers.delete_all(Header(stamp=stamp, frame_id=self._last_frame_id))
            )
            # on shutdown the writer goes away next: let reliable subscribers (RViz) acknowledge it
            # first
            self.pub_markers.wait_for_all_acked(Duration(seconds=1.0))

    def _release(self) -> None:
        for pub in (self.pub_poses, self.pub_markers, self.pub_debug):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self.pub_poses = self.pub_markers = self.pub_debug = None
        if self.pipeline is not None and self.pipeline is not self._injected_pipeline:
            device = str(self.pipeline.pose.device)
            self.pipeline = None
            gc.collect()
            if device.startswith('cuda'):
                import torch

                torch.cuda.empty_cache()
        self.pipeline = None

    # ---------------------------------------------------------------- input
    _last_frame_id = ''

    def _topic(self) -> str:
        return 'image' if self.settings.image_transport == 'raw' else 'image/compressed'

    def _wanted_reliability(self, topic: str = '') -> str:
        """Return the reliability to subscribe ``topic`` (default: the image topic) with."""
        mode = self.settings.qos_reliability
        if mode != 'auto':
            return mode
        infos = self.get_publishers_info_by_topic(self.resolve_topic_name(topic or self._topic()))
        # no publisher yet: best effort matches any publisher; re-checked as publishers appear
        return offered_reliability(infos) or 'best_effort'

    def _subscribe(self, reliability: str) -> None:
        if self.sub is not None:
            self.destroy_subscription(self.sub)
        kind = Image if self.settings.image_transport == 'raw' else CompressedImage
        events = SubscriptionEventCallbacks(message_lost=self._on_message_lost)
        self.sub = self.create_subscription(
            kind,
            self._topic(),
            self._on_image,
            make_qos(reliability, self.settings.qos_depth),
            event_callbacks=events,
        )
        self._sub_reliability = reliability
        self._large_rx = 0.0
        self.losses.restart()  # frames missed while re-matching are expected, not a transport loss
        rmem = receive_buffer_limit()
        if (
            reliability == 'best_effort'
            and rmem is not None
            and rmem < RMEM_NEEDED
            and not self._rmem_warned
        ):
            self._rmem_warned = True
            self.get_logger().warning(
                f'best-effort image subscription and net.core.rmem_max = {rmem} B: large frames '
                '(640x480 and up) from a best-effort camera in another process are mostly '
                'lost. Fix: sudo sysctl -w net.core.rmem_max=4194304, or publish the camera '
                'reliably'
            )

    def _depth_topic(self) -> str:
        return (
            'depth/image'
            if self.settings.depth_transport == 'raw'
            else 'depth/image/compressedDepth'
        )

    def _subscribe_depth(self, reliability: str) -> None:
        if self.sub_depth is not None:
            self.destroy_subscription(self.sub_depth)
        kind = Image if self.settings.depth_transport == 'raw' else CompressedImage
        self.sub_depth = self.create_subscription(
            kind,
            self._depth_topic(),
            self._on_depth,
            make_qos(reliability, self.settings.qos_depth),
        )
        self._depth_reliability = reliability

    def _subscribe_info(self, reliability: str) -> None:
        if self.sub_info is not None:
            self.destroy_subscription(self.sub_info)
        self.sub_info = self.create_subscription(
            CameraInfo,
            'camera_info',
            self._on_camera_info,
            make_qos(reliability, self.settings.qos_depth),
        )
        self._info_reliability = reliability

    def _recheck_qos(self) -> None:
        """qos_reliability auto: follow what the publishers of each input offer.

        The inputs: image, depth, camera info.
        """
        for sub, have, resubscribe in (
            (self.sub, self._sub_reliability, self._subscribe),
            (self.sub_depth, self._depth_reliability, self._subscribe_depth),
            (self.sub_info, self._info_reliability, self._subscribe_info),
        ):
            if sub is None:
                continue
            want = offered_reliability(self.get_publishers_info_by_topic(sub.topic_name))
            if want is not None and want != have:
                self.get_logger().info(
                    f'publishers on {sub.topic_name} offer {want}: '
                    f'resubscribing {want} (qos_reliability: auto)'
                )
                resubscribe(want)

    @property
    def large_frames_held(self) -> bool:
        """True while large frames arrived since the image subscription was last (re-)created."""
        return bool(self._large_rx)

    def _release_large_buffers(self) -> None:
        """Give back the memory of large frames once they have stopped for RESUBSCRIBE_AFTER_S.

        Re-create the subscription (same QoS) so the middleware frees the sample buffers it grew
        for them, and trim the heap (executor thread): now, and again on the next two calls (once
        a second), since rclpy destroys the old subscription only once this timer callback has
        returned, and what it frees then would otherwise stay with the process.
        """
        if self._trims_pending:
            self._trims_pending -= 1
            _malloc_trim()
        if (
            self.sub is None
            or not self._large_rx
            or time.monotonic() - self._large_rx < RESUBSCRIBE_AFTER_S
        ):
            return
        with self._cv:
            waiting = self._latest is not None
        if waiting:
            return
        self._subscribe(self._sub_reliability)
        _malloc_trim()
        self._trims_pending = 2
        self.memory_releases += 1
        self.get_logger().info(
            'large frames stopped: image subscription re-created to release their buffers'
        )

    def _on_message_lost(self, info) -> None:
        self.losses.lost_by_transport(int(info.total_count_change))

    def _on_image(self, msg) -> None:
        rx = time.perf_counter()
        if len(msg.data) > TRIM_ABOVE_BYTES:
            self._large_rx = time.monotonic()
        st = msg.header.stamp
        self.losses.received(st.sec + st.nanosec * 1e-9)
        waits = self._sync is not None  # use_depth: the frame waits (depth_wait) for its depth
        pending = _Pending(msg, rx, time.monotonic() + self.settings.depth_wait if waits else 0.0)
        with self._cv:
            if self._latest is not None:
                self.stats.count('dropped')
            self._latest = pending
            self.stats.count('received')
            self._last_rx = time.monotonic()
            self._cv.notify()
        if waits:
            self._sync_in[0].signalMessage(msg)  # pairs with a depth already there (-> _on_pair)
        # at most one warning a minute while frames keep being lost
        if self.losses.significant() and self._loss_throttle.allow('loss')[0]:
            self.get_logger().warning(
                f'{self.losses.summary_text()} on {self.resolve_topic_name(self._topic())} '
                f'({self._sub_reliability} subscription): {_LOSS_FIX}'
            )

    def _on_depth(self, msg) -> None:
        self.depth_received += 1
        self._last_depth_stamp = _seconds(msg.header.stamp)
        if self._sync is not None:
            self._sync_in[1].signalMessage(msg)

    def _on_pair(self, image_msg, depth_msg) -> None:
        """Attach a depth image the synchroniser paired with a colour frame (matching stamps)."""
        with self._cv:
            if self._latest is not None and self._latest.msg is image_msg:
                self._latest.depth = depth_msg
                self._cv.notify()
                return
        # that colour frame was already processed without depth (depth_wait ran out) or was
        # replaced
        self.stats.count('depth_late')

    def _on_camera_info(self, msg) -> None:
        self.camera_info_received += 1
        problem = camera_info_problem(msg, image_size=(max(msg.width, 1), max(msg.height, 1)))
        if problem:
            self.stats.count('camera_info_invalid')
            topic = self.resolve_topic_name('camera_info')
            self._input_warning(
                f'camera_info on {topic} unusable: {problem}; '
                + (
                    'using the last valid one'
                    if self._infos
                    else 'no 3D and no real-K markers until a valid one comes'
                ),
                'camera_info',
            )
            return
        self._infos.append((_seconds(msg.header.stamp), msg))

    def _camera_for(self, stamp: float, w: int, h: int):
        """Return the CameraModel for the colour frame, or None when there is none.

        From the CameraInfo stamped closest within sync_slop, else the latest valid one. w x h
        fills in a CameraInfo without a size; another size is scaled by the depth stage and the
        markers.
        """
        if not self._infos:
            return None
        infos = list(self._infos)
        best_dt, msg = min(((abs(t - stamp), m) for t, m in infos), key=lambda e: e[0])
        if best_dt > self.settings.sync_slop:
            msg = infos[-1][1]
        cached_msg, size, cam = self._camera_cache
        if cached_msg is msg and size == (w, h):
            return cam
        cam = camera_info_to_model(msg, image_size=(w, h))
        self._camera_cache = (msg, (w, h), cam)
        return cam

    def _input_warning(self, text: str, kind: str) -> None:
        """Report a problem with the depth or camera_info input.

        Warned at most once per error_log_period per kind, counted; the colour frames keep being
        processed (in 2D where 3D is not possible).
        """
        self.stats.count('input_problems')
        self.last_input_problem = text[:500]
        self._log_throttle.period = self.settings.error_log_period
        ok, held = self._log_throttle.allow(f'input:{kind}')
        if ok:
            more = f' ({held} more like it since the last message)' if held else ''
            self.get_logger().warning(text + more)

    def _log_limited(self, kind: str, text: str) -> None:
        """Log an error, at most once per error_log_period for each kind.

        Not rclpy's throttle: it cannot follow a live change of the period (it raises ValueError).
        """
        self._log_throttle.period = self.settings.error_log_period
        ok, held = self._log_throttle.allow(kind)
        if ok:
            more = f' ({held} more like it since the last message)' if held else ''
            self.get_logger().error(text + more)

    def _bad_input(self, text: str, kind: str = 'data') -> None:
        self.stats.count('bad_input')
        self.last_bad_input = text[:500]
        self._log_limited(f'bad_input:{kind}', text)

    # ---------------------------------------------------------------- worker
    def _work(self) -> None:
        while True:
            with self._cv:
                # behind the camera: the next frame is already here when the worker comes for it
                was_waiting = self._latest is not None
                while self._running:
                    p = self._latest
                    if p is None:
                        self._cv.wait(0.5)
                        continue
                    wait = p.deadline - time.monotonic() if p.depth is None else 0.0
                    if wait <= 0:  # ready: paired, depth not used, or depth_wait ran out
                        break
                    self._cv.wait(min(wait, 0.5))
                if not self._running:
                    return
                pending, self._latest = self._latest, None
            large = len(pending.msg.data) > TRIM_ABOVE_BYTES
            item = None
            try:
                item = self._first_stage(pending)
            except Exception as e:  # noqa: BLE001 -- a message must never kill the node
                self._frame_error(e)
            finally:
                pending = None
            if item is not None:
                overlap = self._stage2 is not None and (
                    self._governor is None or self._overlap_decision(was_waiting)
                )
                if not overlap or large:  # large frames: one at a time (memory is trimmed)
                    if self._stage2 is not None:  # the frame before it first: results in order
                        self._stage2.wait_idle()
                    self._guarded_second(item)
                else:
                    self._overlap_frames += 1
                    self._stage2.hand(item)
            item = None
            if large:  # the frame and its copies are freed now: hand the memory back
                _malloc_trim()

    def _overlap_decision(self, was_waiting: bool) -> bool:
        """Return whether this frame overlaps (overlap_when_behind), logging each switch."""
        g = self._governor
        before = g.on
        on = g.picked(was_waiting)
        if on != before:
            self.get_logger().info(
                'falling behind the camera: overlapping detection with pose and tracking '
                '(overlap_when_behind; more frames, up to one frame more latency)'
                if on
                else 'keeping up with the camera: stages one after another again (lower latency)'
            )
        return on

    def _frame_error(self, e: BaseException) -> None:
        self.stats.count('errors')
        try:
            self._log_limited('error', f'frame skipped: {type(e).__name__}: {e}')
        except Exception:  # noqa: BLE001 -- not even the log may end the worker
            pass

    def _guarded_second(self, item) -> None:
        try:
            self._second_stage(item)
        except Exception as e:  # noqa: BLE001 -- a message must never kill the node
            self._frame_error(e)

    def _first_stage(self, pending: '_Pending'):
        """Decode, check, pair depth/camera and detect persons.

        This is the work that may run one frame ahead. Returns what :meth:`_second_stage` needs, or
        None when the frame is skipped.
        """
        t0 = time.perf_counter()
        s = self.settings
        msg, rx = pending.msg, pending.rx
        try:
            image = image_to_bgr(msg)
        except ImageError as e:
            self._bad_input(f'bad image on {self._topic()}: {e}', e.kind)
            return
        h, w = image.shape[:2]
        if (s.expected_width and w != s.expected_width) or (
            s.expected_height and h != s.expected_height
        ):
            self._bad_input(
                f'frame size {w}x{h} differs from expected_width x expected_height = '
                f'{s.expected_width}x{s.expected_height}; frame skipped',
                'expected_size',
            )
            return
        stamp = _seconds(msg.header.stamp)
        camera = self._camera_for(stamp, w, h) if s.use_camera_info else None
        depth = self._depth_for(pending, camera, w, h) if s.use_depth else None
        frame = Frame(
            image, stamp, msg.header.frame_id, self._frame_index, depth=depth, camera=camera
        )
        self._frame_index += 1
        self._last_frame_id = msg.header.frame_id
        t1 = time.perf_counter()
        # None: a frame between detections (or detect later)
        dets = self.pipeline.detect_ahead(image)
        detect_ms = (time.perf_counter() - t1) * 1e3
        return msg, rx, frame, camera, dets, detect_ms, t0, t1

    def _second_stage(self, item) -> None:
        """Run pose, 3D, tracking (in frame order) and publish a frame the first stage prepared."""
        msg, rx, frame, camera, dets, detect_ms, t0, t1 = item
        s = self.settings
        image, stamp = frame.image, frame.stamp
        h, w = image.shape[:2]
        t1b = time.perf_counter()
        with self._pipe_lock:
            result = self.pipeline.process(frame, detections=dets, detect_ms=detect_ms)
            markers = (
                self.markers.build(result.tracks, msg.header, w, h, result.tracks_3d, camera)
                if s.publish_markers
                else None
            )
        t2 = time.perf_counter()
        if result.tracks_3d is not None and result.tracks_3d.problem:
            self._input_warning(
                f'3D not possible for this frame: {result.tracks_3d.problem}', 'stage'
            )
        header = copy_header(msg.header)
        self.pub_poses.publish(result_to_msg(result, header))
        if markers is not None:
            self.pub_markers.publish(markers)
        if s.publish_debug_image:
            self.pub_debug.publish(
                bgr_to_image(draw_tracks(image, result.tracks, s.keypoint_score_threshold), header)
            )
        t3 = time.perf_counter()
        # total: this frame's own work (both stages); stage_wait: between them (overlap), in
        # latency only
        timings = {
            'decode': (t1 - t0) * 1e3,
            **result.timings_ms,
            'publish': (t3 - t2) * 1e3,
            'total': (t3 - t1b + t1 - t0) * 1e3 + detect_ms,
            'queue_wait': (t0 - rx) * 1e3,
            'stage_wait': (t1b - t1) * 1e3 - detect_ms,
        }
        now = self.get_clock().now().nanoseconds * 1e-9
        if stamp > 0 and abs(now - stamp) < 60.0:
            timings['latency'] = (now - stamp) * 1e3
        self.stats.add(timings)
        self.stats.count('processed')
        self.tracks_summary.add(t.track_id for t in result.tracks)

    def _depth_for(self, pending: '_Pending', camera, w: int, h: int):
        """Return the depth (float32 metres) paired with this colour frame.

        None with the reason warned.
        """
        s = self.settings
        topic = self.resolve_topic_name(self._depth_topic())
        dmsg = pending.depth
        if dmsg is None:
            self.stats.count('frames_without_depth')
            if not self.depth_received:
                self._input_warning(
                    f'use_depth is true but no depth image has arrived on {topic}: colour '
                    'frames are processed without depth. Remap depth/image to the registered '
                    'depth topic (e.g. -r '
                    'depth/image:=/camera/aligned_depth_to_color/image_raw) or set use_depth '
                    'false',
                    'no_depth',
                )
            else:
                st = _seconds(pending.msg.header.stamp)
                self._input_warning(
                    f'no depth image on {topic} paired with the colour frame stamped {st:.3f} '
                    f'within depth_wait = {s.depth_wait:g} s ({self.depth_received} depth '
                    f'images so far, the latest stamped {self._last_depth_stamp - st:+.3f} s '
                    f'from this frame; sync_slop = {s.sync_slop:g} s): processed without depth. '
                    'Depth and colour must come from the same camera with matching stamps '
                    '(raise sync_slop if they are stamped apart)',
                    'unpaired',
                )
            return None
        self.stats.count('frames_with_depth')
        if camera is None:
            self._input_warning(
                f'depth image on {topic} but no valid camera_info'
                + ('' if s.use_camera_info else ' (use_camera_info is false)')
                + f' ({self.camera_info_received} received, '
                f'{self.stats.counters["camera_info_invalid"]} unusable): depth cannot be '
                'back-projected without intrinsics; processed in 2D. Remap camera_info to '
                'the colour camera\'s CameraInfo topic',
                'no_camera_info',
            )
            return None
        try:
            # depth_scale from the 3D stage's parsed settings (kept current by apply_live_settings)
            scale = self.pipeline.depth_stage.config.depth_scale
            depth = depth_image_to_metres(dmsg, scale)
        except ImageError as e:
            self._input_warning(
                f'depth image on {topic}: {e}; this frame is processed without depth', e.kind
            )
            return None
        if dmsg.header.frame_id != pending.msg.header.frame_id:
            self._input_warning(
                f"depth frame_id '{dmsg.header.frame_id}' differs from the colour image's "
                f"'{pending.msg.header.frame_id}': the depth must be registered to the colour "
                "image (the driver's align/registration option or depth_image_proc register); "
                "used as if it were",
                'frame_id',
            )
        if not np.isfinite(depth).any():
            kind = dmsg.encoding if isinstance(dmsg, Image) else dmsg.format
            self._input_warning(
                f'depth image on {topic} ({depth.shape[1]}x{depth.shape[0]} {kind}) has no '
                'valid pixel (all 0 or NaN); this frame is processed without depth',
                'no_valid_depth',
            )
            return None
        if (depth.shape[1], depth.shape[0]) != (w, h):
            self.stats.count('depth_resized')  # another resolution: the depth stage scales to it
        return depth

    # ---------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        t, rx0, px0 = self._diag_prev
        now = time.monotonic()
        rx, px = self.stats.counters['received'], self.stats.counters['processed']
        dt = max(now - t, 1e-6)
        self._diag_prev = (now, rx, px)
        problems = self.stats.counters['input_problems']
        new_problems, self._problems_prev = problems - self._problems_prev, problems
        self._release_large_buffers()
        s = self.stats.summary(last=100)
        state = self.state_label()
        st = DiagnosticStatus(name=f'{self.get_name()}: pose tracking', hardware_id='poseflow_ros')
        if state != 'active':
            st.level = DiagnosticStatus.WARN if self.configure_error else DiagnosticStatus.OK
            st.message = f'{state}' + (f': {self.configure_error}' if self.configure_error else '')
        elif rx == 0 or now - self._last_rx > 5.0:
            st.level, st.message = DiagnosticStatus.WARN, 'no images received in the last 5 s'
        elif self.losses.significant():
            st.level, st.message = (
                DiagnosticStatus.WARN,
                f'{self.losses.summary_text()}: {_LOSS_FIX}',
            )
        elif new_problems:
            st.level = DiagnosticStatus.WARN
            st.message = f'depth/camera_info input: {self.last_input_problem}'
        else:
            st.level, st.message = DiagnosticStatus.OK, 'tracking'
        vals = {
            'lifecycle_state': state,
            'input_rate_hz': (rx - rx0) / dt,
            'output_rate_hz': (px - px0) / dt,
            'frames_received': rx,
            'frames_processed': px,
            'frames_dropped': self.stats.counters['dropped'],
            'frames_lost_in_transport': self.losses.transport_lost,
            'frames_missing_by_stamp_gaps': self.losses.gap_missing,
            'subscription_reliability': self._sub_reliability or '',
            'bad_input_frames': self.stats.counters['bad_input'],
            'last_bad_input': self.last_bad_input,
            'camera_info_received': self.camera_info_received,
            'camera_info_valid': bool(self._infos),
            'depth_received': self.depth_received,
            'frames_with_depth': self.stats.counters['frames_with_depth'],
            'frames_without_depth': self.stats.counters['frames_without_depth'],
            'input_problems': self.stats.counters['input_problems'],
            'last_input_problem': self.last_input_problem,
            'frame_errors': self.stats.counters['errors'],
            'distinct_track_ids': self.tracks_summary.distinct_ids,
        }
        for k, v in s.items():
            vals[f'{k}_ms_mean'] = v['mean']
        st.values = [
            KeyValue(key=k, value=f'{v:.3f}' if isinstance(v, float) else str(v))
            for k, v in vals.items()
        ]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)

    def stats_report(self) -> dict:
        """Counters, per-stage ms, persons per frame and track ids so far (what stats_file holds).

        Constant size: persons_per_frame {frames, mean, max, frames_with_persons, histogram},
        track_ids {distinct, highest, recent}.
        """
        p = self.pipeline
        return {
            'counters': {
                **self.stats.counters,
                'lost_in_transport': self.losses.transport_lost,
                'missing_by_stamp_gaps': self.losses.gap_missing,
            },
            'stage_ms': self.stats.summary(),
            **self.tracks_summary.report(),
            'subscription_reliability': self._sub_reliability or '',
            'device': str(p.pose.device) if p else '',
            'pose_backend': self.config.pose_backend if self.config else '',
            'pose_runtime': str(p.pose.runtime) if p else '',
            'pose_precision': str(getattr(p.pose, 'precision', 'fp32')) if p else '',
            'overlap': self.settings.overlap_mode,
            'overlap_frames': self._overlap_frames,
            'overlap_switches': self._governor.switches if self._governor else 0,
            'detector': p.detector.name if p else '',
            'embedder': self.config.embedder if self.config else '',
        }

    def shutdown(self) -> None:
        """Leave every state cleanly (frame in flight done, markers deleted), write stats_file."""
        report = self.stats_report()  # before cleanup frees the pipeline
        if self.state_label() in ('unconfigured', 'inactive', 'active'):
            self.trigger_shutdown()
        if self.settings.stats_file:
            path = Path(self.settings.stats_file)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(report, indent=1))

    def destroy_node(self):
        if hasattr(self, '_state_machine') and self.state_label() in ('inactive', 'active'):
            self.trigger_shutdown()
        return super().destroy_node()


class _Pending:
    """The frame waiting for the worker.

    The colour image, when it arrived, its depth image once the synchroniser paired one, and until
    when it waits for that depth (monotonic s; 0 = it does not).
    """

    __slots__ = ('msg', 'rx', 'depth', 'deadline')

    def __init__(self, msg, rx: float, deadline: float):
        self.msg, self.rx, self.depth, self.deadline = msg, rx, None, deadline


def _seconds(stamp) -> float:
    return stamp.sec + stamp.nanosec * 1e-9


_LIBC = None


def _malloc_trim() -> None:
    """Give freed heap memory back to the system (glibc keeps it otherwise); a no-op elsewhere."""
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL('libc.so.6')
        _LIBC.malloc_trim(0)
    except (OSError, AttributeError):
        _LIBC = False


def main(args=None) -> int:
    """Run pose_tracker until SIGINT/SIGTERM; exit 0 on a signal, 2 when start-up fails."""
    profile = use_large_image_profile()  # before the first DDS participant of this process
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = install_stop_handlers()
    node, rc = None, 0
    try:
        node = PoseTrackerNode()
        if profile:
            node.get_logger().info(
                f'Fast DDS profile: {profile} (set FASTDDS_DEFAULT_PROFILES_FILE to use another)'
            )
        if node.settings.autostart and not node.autostart():
            print(f'[pose_tracker] FATAL: {node.configure_error}', file=sys.stderr)
            rc = 2
        else:
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            while not stop.is_set():
                executor.spin_once(timeout_sec=0.1)
    except STARTUP_ERRORS as e:
        print(f'[pose_tracker] FATAL: {e}', file=sys.stderr)
        rc = 2
    except Exception as e:  # noqa: BLE001 -- rclpy parameter exceptions (bad type or range in a params file)
        print(f'[pose_tracker] FATAL: {type(e).__name__}: {e}', file=sys.stderr)
        rc = 2
    finally:
        ignore_stop_signals()
        if node is not None:
            node.shutdown()
            node.destroy_node()
        rclpy.try_shutdown()
    return rc


if __name__ == '__main__':
    sys.exit(main())
