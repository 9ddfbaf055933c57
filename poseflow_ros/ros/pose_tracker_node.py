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
    pub  tracked_poses      poseflow_ros/TrackedPoseArray (header copied from the image)
    pub  markers            visualization_msgs/MarkerArray (lifetime marker_lifetime)
    pub  debug_image        sensor_msgs/Image (bgr8), when publish_debug_image is true
    pub  /diagnostics       diagnostic_msgs/DiagnosticArray (1 Hz: state, rates, drops, losses, stage ms)
Parameters: one per setting of NodeSettings, PipelineConfig, TrackerConfig (``tracker.*``) and
PostureConfig (``posture.*``); those marked live change with ``ros2 param set`` while running, the others
only while unconfigured (a set is refused with the reason otherwise).
Latest frame wins: a frame that arrives while one is being processed replaces the waiting one
(the replaced frame is counted as dropped); nothing queues without bound.
Bad input (see poseflow_ros.decode) is skipped, counted (bad_input_frames) and logged at most once per
error_log_period per kind of problem. Memory is bounded: statistics are running summaries and windows, and
after large frames the process gives memory back (malloc_trim; the image subscription is re-created once
large frames stop, which releases the middleware's sample buffers).
"""
from __future__ import annotations

import ctypes
import gc
import json
import sys
import threading
import time
from pathlib import Path

import rclpy
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rcl_interfaces.msg import SetParametersResult
from rclpy.event_handler import SubscriptionEventCallbacks
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import LifecycleNode, LifecycleState, TransitionCallbackReturn
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header
from visualization_msgs.msg import MarkerArray

from .. import models
from ..analytics import PostureConfig
from ..decode import ImageError
from ..pipeline import PipelineConfig, PosePipeline
from ..render import draw_tracks
from ..track import TrackerConfig
from ..types import Frame
from .conversions import bgr_to_image, copy_header, image_to_bgr, tracks_to_msg
from .markers import MarkerBuilder
from .node_settings import NodeSettings
from .process import (RMEM_NEEDED, ignore_stop_signals, install_stop_handlers, receive_buffer_limit,
                      use_large_image_profile)
from .params import ParameterError, declare_settings, make_qos, offered_reliability, read_settings
from .stats import LogThrottle, LossMonitor, StageStats, TrackSummary

from poseflow_ros.msg import TrackedPoseArray

# start-up problems that name their fix (models missing, bad parameters, no GPU, ...)
STARTUP_ERRORS = (models.ModelError, ParameterError, ValueError, FileNotFoundError, RuntimeError, ImportError)
_SUCCESS, _FAILURE = TransitionCallbackReturn.SUCCESS, TransitionCallbackReturn.FAILURE
LOSS_WARN_PERIOD_S = 60.0
# memory given back after large frames (measured: 3840x2160 and 7680x4320 frames left the process ~140 MB
# bigger, held by the DDS reader's sample buffers and by freed-but-kept heap memory)
TRIM_ABOVE_BYTES = 8 * 1024 * 1024      # after processing a frame larger than this: malloc_trim(0)
RESUBSCRIBE_AFTER_S = 3.0               # no such frame for this long: re-create the image subscription
_LOSS_FIX = ('publish the camera with RELIABLE QoS (the default qos_reliability: auto then subscribes '
             'reliably), or set qos_reliability: reliable if the publisher offers it; for a best-effort '
             'camera see the README section "Delivery: QoS and large images"')


class PoseTrackerNode(LifecycleNode):
    def __init__(self, pipeline: PosePipeline = None, **kwargs):
        super().__init__('pose_tracker', **kwargs)
        self._injected_pipeline = pipeline       # tests pass a ready pipeline; configure then uses it
        self._specs = {}
        self._specs.update(declare_settings(self, NodeSettings))
        self._specs.update(declare_settings(self, PipelineConfig))
        self._specs.update(declare_settings(self, TrackerConfig, 'tracker.'))
        self._specs.update(declare_settings(self, PostureConfig, 'posture.'))
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
        self._large_rx = 0.0            # monotonic time of the last large frame (0: none since subscribing)
        self.memory_releases = 0
        self._cv = threading.Condition()
        self._pipe_lock = threading.Lock()        # process() vs live parameter changes
        self._latest = None
        self._running = False
        self._worker = None
        self._frame_index = 0
        self._last_rx = 0.0
        self._diag_prev = (time.monotonic(), 0, 0)
        self.sub = None
        self._sub_reliability = None
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
        """NodeSettings + PipelineConfig from the current parameters, or from them with ``pending``
        ({name: value}) applied; ParameterError/ValueError if a value or a rule between values is bad."""
        ns = NodeSettings(**read_settings(self, NodeSettings, pending=pending))
        cfg = read_settings(self, PipelineConfig, pending=pending)
        cfg['tracker'] = read_settings(self, TrackerConfig, 'tracker.', pending)
        cfg['posture'] = read_settings(self, PostureConfig, 'posture.', pending)
        cfg = PipelineConfig.from_dict(cfg)
        TrackerConfig.from_dict(cfg.tracker)          # the rules between tracker fields
        return ns, cfg

    def _on_set_parameters(self, params) -> SetParametersResult:
        state = self.state_label()
        for p in params:
            sp = self._specs.get(p.name)
            if sp is None:
                continue
            if not sp.live and state in ('inactive', 'active'):
                fqn = self.get_fully_qualified_name()
                return SetParametersResult(successful=False, reason=(
                    f'{p.name} is read at configure and cannot change while the node is {state}: '
                    f'ros2 lifecycle set {fqn} deactivate (if active), ros2 lifecycle set {fqn} cleanup, '
                    f'set it, then configure and activate again'))
            try:
                sp.check(p.value)
            except ValueError as e:
                return SetParametersResult(successful=False, reason=str(e))
        # rules between settings (e.g. tracker low <= high score threshold), on the would-be values
        try:
            self._read_config({p.name: p.value for p in params if p.name in self._specs})
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
        changed = ', '.join(f'{p.name}={p.value!r}' for p in params if p.name in self._specs)
        if changed:
            self.get_logger().info(f'parameters changed: {changed}')

    def _apply_marker_settings(self) -> None:
        s = self.settings
        m = self.markers
        m.depth, m.focal_px, m.kp_threshold, m.lifetime = (s.marker_depth, s.marker_focal_px,
                                                           s.keypoint_score_threshold, s.marker_lifetime)

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
                # first frames at full speed: models loaded, CUDA graphs captured for up to max_persons
                pipeline.warmup()
                self.pipeline = pipeline
        except Exception as e:  # noqa: BLE001 -- rclpy would swallow it: name the reason, stay unconfigured
            self.configure_error = str(e) if isinstance(e, STARTUP_ERRORS) else f'{type(e).__name__}: {e}'
            self.get_logger().error(f'configure failed, staying unconfigured: {self.configure_error}')
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
        self.markers = MarkerBuilder(s.marker_depth, s.marker_focal_px, s.keypoint_score_threshold,
                                     s.marker_lifetime)
        p = self.pipeline
        self.get_logger().info(
            f'configured in {time.perf_counter() - t0:.1f} s: detector={p.detector.name} pose={p.pose.name} '
            f'device={getattr(p.pose, "device", "?")} embedder={self.config.embedder}')
        return super().on_configure(state)

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        ret = super().on_activate(state)          # lifecycle publishers first: the first frame is published
        if ret != _SUCCESS:
            return ret
        self.pipeline.tracker.reset()
        self._running = True
        self._worker = threading.Thread(target=self._work, name='pose_tracker_worker', daemon=True)
        self._worker.start()
        self._subscribe(self._wanted_reliability())
        if self.settings.qos_reliability == 'auto':
            self._qos_timer = self.create_timer(0.25, self._recheck_qos)
        self.get_logger().info(f'active: {self.sub.topic_name} ({self._sub_reliability})')
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
        """configure + activate; False (reason in configure_error) when configure fails."""
        if self.trigger_configure() != _SUCCESS or self.state_label() != 'inactive':
            self.configure_error = self.configure_error or 'configure failed'
            return False
        return self.trigger_activate() == _SUCCESS

    def _stop_io(self) -> None:
        """Unsubscribe, let the frame in flight finish (it is still published), delete our markers."""
        if self._qos_timer is not None:
            self.destroy_timer(self._qos_timer)
            self._qos_timer = None
        if self.sub is not None:
            self.destroy_subscription(self.sub)
            self.sub = None
        with self._cv:
            self._running = False
            self._latest = None
            self._cv.notify_all()
        if self._worker is not None and self._worker is not threading.current_thread():
            self._worker.join(timeout=10.0)
        self._worker = None
        if self.markers is not None and self.pub_markers is not None:
            stamp = self.get_clock().now().to_msg()
            self.pub_markers.publish(self.markers.delete_all(Header(stamp=stamp, frame_id=self._last_frame_id)))
            # on shutdown the writer goes away next: let reliable subscribers (RViz) acknowledge it first
            self.pub_markers.wait_for_all_acked(Duration(seconds=1.0))

    def _release(self) -> None:
        for pub in (self.pub_poses, self.pub_markers, self.pub_debug):
            if pub is not None:
                self.destroy_lifecycle_publisher(pub)
        self.pub_poses = self.pub_markers = self.pub_debug = None
        if self.pipeline is not None and self.pipeline is not self._injected_pipeline:
            device = str(getattr(self.pipeline.pose, 'device', 'cpu'))
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

    def _wanted_reliability(self) -> str:
        mode = self.settings.qos_reliability
        if mode != 'auto':
            return mode
        infos = self.get_publishers_info_by_topic(self.resolve_topic_name(self._topic()))
        # no publisher yet: best effort matches any publisher; re-checked as publishers appear
        return offered_reliability(infos) or 'best_effort'

    def _subscribe(self, reliability: str) -> None:
        if self.sub is not None:
            self.destroy_subscription(self.sub)
        kind = Image if self.settings.image_transport == 'raw' else CompressedImage
        events = SubscriptionEventCallbacks(message_lost=self._on_message_lost)
        self.sub = self.create_subscription(kind, self._topic(), self._on_image,
                                            make_qos(reliability, self.settings.qos_depth),
                                            event_callbacks=events)
        self._sub_reliability = reliability
        self._large_rx = 0.0
        self.losses.restart()          # frames missed while re-matching are expected, not a transport loss
        rmem = receive_buffer_limit()
        if reliability == 'best_effort' and rmem is not None and rmem < RMEM_NEEDED and not self._rmem_warned:
            self._rmem_warned = True
            self.get_logger().warning(
                f'best-effort image subscription and net.core.rmem_max = {rmem} B: large frames (640x480 '
                f'and up) from a best-effort camera in another process are mostly lost. Fix: '
                f'sudo sysctl -w net.core.rmem_max=4194304, or publish the camera reliably')

    def _recheck_qos(self) -> None:
        if self.sub is None:
            return
        infos = self.get_publishers_info_by_topic(self.sub.topic_name)
        want = offered_reliability(infos)
        if want is not None and want != self._sub_reliability:
            self.get_logger().info(f'image publishers on {self.sub.topic_name} offer {want}: '
                                   f'resubscribing {want} (qos_reliability: auto)')
            self._subscribe(want)

    def _release_large_buffers(self) -> None:
        """Once large frames have stopped for RESUBSCRIBE_AFTER_S: re-create the subscription (same QoS) so
        the middleware frees the sample buffers it grew for them, and trim the heap (executor thread)."""
        if self.sub is None or not self._large_rx or time.monotonic() - self._large_rx < RESUBSCRIBE_AFTER_S:
            return
        with self._cv:
            waiting = self._latest is not None
        if waiting:
            return
        self._subscribe(self._sub_reliability)
        _malloc_trim()
        self.memory_releases += 1
        self.get_logger().info('large frames stopped: image subscription re-created to release their buffers')

    def _on_message_lost(self, info) -> None:
        self.losses.lost_by_transport(int(info.total_count_change))

    def _on_image(self, msg) -> None:
        rx = time.perf_counter()
        if len(msg.data) > TRIM_ABOVE_BYTES:
            self._large_rx = time.monotonic()
        st = msg.header.stamp
        self.losses.received(st.sec + st.nanosec * 1e-9)
        with self._cv:
            if self._latest is not None:
                self.stats.count('dropped')
            self._latest = (msg, rx)
            self.stats.count('received')
            self._last_rx = time.monotonic()
            self._cv.notify()
        # at most one warning a minute while frames keep being lost
        if self.losses.significant() and self._loss_throttle.allow('loss')[0]:
            self.get_logger().warning(
                f'{self.losses.summary_text()} on {self.resolve_topic_name(self._topic())} '
                f'({self._sub_reliability} subscription): {_LOSS_FIX}')

    def _log_limited(self, kind: str, text: str) -> None:
        """Error log, at most once per error_log_period for each kind (rclpy's throttle cannot follow a
        live change of the period: it raises ValueError)."""
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
                while self._running and self._latest is None:
                    self._cv.wait(0.5)
                if not self._running:
                    return
                msg, rx = self._latest
                self._latest = None
            large = len(msg.data) > TRIM_ABOVE_BYTES
            try:
                self._process(msg, rx)
            except Exception as e:  # noqa: BLE001 -- a message must never kill the node
                self.stats.count('errors')
                try:
                    self._log_limited('error', f'frame skipped: {type(e).__name__}: {e}')
                except Exception:  # noqa: BLE001 -- not even the log may end the worker
                    pass
            finally:
                msg = None
            if large:        # the frame and its copies are freed now: hand the memory back
                _malloc_trim()

    def _process(self, msg, rx: float) -> None:
        t0 = time.perf_counter()
        s = self.settings
        try:
            image = image_to_bgr(msg)
        except ImageError as e:
            self._bad_input(f'bad image on {self._topic()}: {e}', e.kind)
            return
        h, w = image.shape[:2]
        if (s.expected_width and w != s.expected_width) or (s.expected_height and h != s.expected_height):
            self._bad_input(f'frame size {w}x{h} differs from expected_width x expected_height = '
                            f'{s.expected_width}x{s.expected_height}; frame skipped', 'expected_size')
            return
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        frame = Frame(image, stamp, msg.header.frame_id, self._frame_index)
        self._frame_index += 1
        self._last_frame_id = msg.header.frame_id
        t1 = time.perf_counter()
        with self._pipe_lock:
            result = self.pipeline.process(frame)
            markers = self.markers.build(result.tracks, msg.header, w, h) if s.publish_markers else None
        t2 = time.perf_counter()
        header = copy_header(msg.header)
        self.pub_poses.publish(tracks_to_msg(result.tracks, header, result.joint_angles, result.postures))
        if markers is not None:
            self.pub_markers.publish(markers)
        if s.publish_debug_image:
            self.pub_debug.publish(bgr_to_image(draw_tracks(image, result.tracks, s.keypoint_score_threshold),
                                                header))
        t3 = time.perf_counter()
        timings = {'decode': (t1 - t0) * 1e3, **result.timings_ms, 'publish': (t3 - t2) * 1e3,
                   'total': (t3 - t0) * 1e3, 'queue_wait': (t0 - rx) * 1e3}
        now = self.get_clock().now().nanoseconds * 1e-9
        if stamp > 0 and abs(now - stamp) < 60.0:
            timings['latency'] = (now - stamp) * 1e3
        self.stats.add(timings)
        self.stats.count('processed')
        self.tracks_summary.add(t.track_id for t in result.tracks)

    # ---------------------------------------------------------------- diagnostics
    def _publish_diagnostics(self) -> None:
        t, rx0, px0 = self._diag_prev
        now = time.monotonic()
        rx, px = self.stats.counters['received'], self.stats.counters['processed']
        dt = max(now - t, 1e-6)
        self._diag_prev = (now, rx, px)
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
            st.level, st.message = DiagnosticStatus.WARN, f'{self.losses.summary_text()}: {_LOSS_FIX}'
        else:
            st.level, st.message = DiagnosticStatus.OK, 'tracking'
        vals = {'lifecycle_state': state, 'input_rate_hz': (rx - rx0) / dt, 'output_rate_hz': (px - px0) / dt,
                'frames_received': rx, 'frames_processed': px,
                'frames_dropped': self.stats.counters['dropped'],
                'frames_lost_in_transport': self.losses.transport_lost,
                'frames_missing_by_stamp_gaps': self.losses.gap_missing,
                'subscription_reliability': self._sub_reliability or '',
                'bad_input_frames': self.stats.counters['bad_input'],
                'last_bad_input': self.last_bad_input,
                'frame_errors': self.stats.counters['errors'],
                'distinct_track_ids': self.tracks_summary.distinct_ids}
        for k, v in s.items():
            vals[f'{k}_ms_mean'] = v['mean']
        st.values = [KeyValue(key=k, value=f'{v:.3f}' if isinstance(v, float) else str(v))
                     for k, v in vals.items()]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self.get_clock().now().to_msg()
        self.pub_diag.publish(arr)

    def stats_report(self) -> dict:
        """Counters, per-stage ms, persons per frame and track ids so far (what stats_file holds); constant
        size: persons_per_frame {frames, mean, max, frames_with_persons, histogram}, track_ids {distinct,
        highest, recent}."""
        p = self.pipeline
        return {'counters': {**self.stats.counters, 'lost_in_transport': self.losses.transport_lost,
                             'missing_by_stamp_gaps': self.losses.gap_missing},
                'stage_ms': self.stats.summary(),
                **self.tracks_summary.report(),
                'subscription_reliability': self._sub_reliability or '',
                'device': str(getattr(p.pose, 'device', '')) if p else '',
                'pose_backend': self.config.pose_backend if self.config else '',
                'pose_runtime': str(getattr(p.pose, 'runtime', '')) if p else '',
                'detector': p.detector.name if p else '',
                'embedder': self.config.embedder if self.config else ''}

    def shutdown(self) -> None:
        """Leave every state cleanly (frame in flight finished, markers deleted), write stats_file."""
        report = self.stats_report()     # before cleanup frees the pipeline
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
    profile = use_large_image_profile()      # before the first DDS participant of this process
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = install_stop_handlers()
    node, rc = None, 0
    try:
        node = PoseTrackerNode()
        if profile:
            node.get_logger().info(f'Fast DDS profile: {profile} (set FASTDDS_DEFAULT_PROFILES_FILE to use another)')
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
