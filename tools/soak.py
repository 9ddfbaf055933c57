#!/usr/bin/env python3
r"""Soak test (issue #11).

The real nodes over real DDS for a long time, with faults injected on a schedule.

    python tools/soak.py [--seconds 1800] [--out out/soak] [--video walk.small.mp4] \
        [-p NAME:=VALUE ...]
    make soak SOAK_S=1800

Three processes, as on a robot: ``video_source`` publishes the video (looped, 25 Hz) on ``image``,
``pose_tracker`` (``device:=cpu``, ``stats_file``, default parameters otherwise) tracks people, and
this process subscribes to ``tracked_poses`` (receive time - header stamp = end-to-end latency;
video_source stamps each image with the current time) and ``/diagnostics``, samples the node's RSS
(/proc/PID/status) every few seconds and injects faults, one every ~25 s (closer together in short
runs, so a 60-s run still gets each kind once), cycling through:

  second_publisher  another process publishes 640x480 on ``image`` for a few seconds
                    (alternately best effort, which makes the node's auto QoS resubscribe, and
                    reliable)
  burst             200 frames as fast as possible from this process
  params            live parameter changes through /pose_tracker's parameter services, then
                    invalid values that must be refused (out of range, low > high tracker
                    threshold, a non-live one)
  frame_size        1280x720 frames from this process for a few seconds, interleaved with the
                    camera's frames
  lifecycle         deactivate, wait, activate through /pose_tracker/change_state
  camera_restart    SIGINT video_source, start it again

and, all along, a bad frame every few seconds (unknown encoding, data/step mismatch, zero size).

Writes ``summary.json`` (and the node's log, stats and the camera logs) into --out (a directory; a
path ending in ``.json`` names the summary itself), prints a progress line every ~10 s and a report
at the end. Exit code 0 only when the goals hold (listed in the report): RSS slope over the second
half <= 0.5 MB/min (judged from --rss-goal-min-s, default 600 s, on), no unhandled error, node
alive until the final SIGINT and exit code 0, outputs received for >= 99 % of the frames the node
processed, camera-path latency p99 < 1 s (--latency-goal-ms), every fault answered as expected
(refused invalid parameters, lifecycle transitions, the camera back after a restart).

DDS stays on this machine (ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST unless set) on a free-looking
domain id in 102..200 unless ROS_DOMAIN_ID is set.
"""

from __future__ import annotations

import argparse
import bisect
import collections
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from poseflow_ros.cli import add_param_option, parse_params  # noqa: E402 -- ROS-free
from poseflow_ros.ros.process import rss_mb  # noqa: E402 -- no rclpy: safe before the DDS environment is set

CAMERA_FRAME_ID = 'camera'  # video_source's default frame_id
FAULT_KINDS = ('second_publisher', 'burst', 'params', 'frame_size', 'lifecycle', 'camera_restart')
# node log lines: expected answers to our bad frames vs everything else that looks like trouble
EXPECTED_BAD_INPUT = ('bad image on ', 'differs from expected_width')
TROUBLE = ('Traceback', 'terminate called', '[ERROR]', '[FATAL]', 'Segmentation fault', 'RCLError')


# ------------------------------------------------------------------------------------- environment
def _used_domain_ids() -> set:
    """Domain ids that look busy on this host.

    Fast DDS/RTPS binds UDP ports 7400 + 250 * id + (0..249).
    """
    used = set()
    for f in ('/proc/net/udp', '/proc/net/udp6'):
        try:
            lines = Path(f).read_text().splitlines()[1:]
        except OSError:
            continue
        for ln in lines:
            try:
                port = int(ln.split()[1].rsplit(':', 1)[1], 16)
            except (IndexError, ValueError):
                continue
            if port >= 7400:
                used.add((port - 7400) // 250)
    return used


def setup_dds_env() -> str:
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if not os.environ.get('ROS_DOMAIN_ID'):
        rnd = random.Random(os.getpid() ^ int.from_bytes(os.urandom(4), 'little'))
        ids = list(range(102, 201))
        rnd.shuffle(ids)
        used = _used_domain_ids()
        os.environ['ROS_DOMAIN_ID'] = str(next((i for i in ids if i not in used), ids[0]))
    os.environ.setdefault('RCUTILS_COLORIZED_OUTPUT', '0')
    os.environ.setdefault('PYTHONUNBUFFERED', '1')
    if 'AMENT_PREFIX_PATH' not in os.environ:
        os.environ['AMENT_PREFIX_PATH'] = sys.prefix
    return os.environ['ROS_DOMAIN_ID']


# ----------------------------------------------------------------------------------------- helpers
def percentile(values, q):
    if not values:
        return None
    import numpy as np

    return float(np.percentile(np.asarray(values, np.float64), q))


def slope_per_min(samples):
    """Least-squares slope (MB/min) of [(t_s, mb), ...]; None with fewer than 3 samples."""
    if len(samples) < 3:
        return None
    import numpy as np

    t = np.array([s[0] for s in samples]) / 60.0
    y = np.array([s[1] for s in samples])
    if np.ptp(t) <= 0:
        return None
    return float(np.polyfit(t, y, 1)[0])


def find_counter(stats: dict, key: str):
    """counters.<key> of the node's stats_file, read defensively (the format may change)."""
    if not isinstance(stats, dict):
        return None
    c = stats.get('counters')
    if isinstance(c, dict) and isinstance(c.get(key), (int, float)):
        return int(c[key])
    if isinstance(stats.get(key), (int, float)):
        return int(stats[key])
    for v in stats.values():
        if isinstance(v, dict):
            r = find_counter(v, key)
            if r is not None:
                return r
    return None


class Proc:
    """A child process whose stdout/stderr goes to a log file and is classified line by line."""

    def __init__(self, name: str, cmd, log_path: Path):
        self.name, self.cmd, self.log_path = name, cmd, log_path
        self.lines = []
        self.trouble = []  # unexpected error lines
        self.expected_bad = 0  # bad-input log lines (answers to our bad frames)
        self.warnings = collections.Counter()
        self._log = open(log_path, 'a', buffering=1)
        self._log.write(f'$ {" ".join(map(str, cmd))}\n')
        # our Ctrl-C is not theirs: we stop them in order
        self.p = subprocess.Popen(
            cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.t_start = time.monotonic()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for ln in self.p.stdout:
            self._log.write(ln)
            self.lines.append(ln.rstrip('\n'))
            if any(b in ln for b in TROUBLE):
                if '[ERROR]' in ln and any(e in ln for e in EXPECTED_BAD_INPUT):
                    self.expected_bad += 1
                else:
                    self.trouble.append(ln.rstrip('\n'))
            elif '[WARN]' in ln:
                self.warnings[re.sub(r'\[\d+\.\d+\]', '', ln).strip()[:200]] += 1

    @property
    def pid(self):
        return self.p.pid

    def alive(self) -> bool:
        return self.p.poll() is None

    def stop(self, timeout=30.0):
        """SIGINT, wait; SIGKILL after timeout.

        Returns the exit code ('killed' if it had to be killed).
        """
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGINT)
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait(timeout=10)
            rc = 'killed'
        self._reader.join(timeout=5)
        self._log.flush()
        return rc

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait(timeout=10)
        self._reader.join(timeout=5)
        self._log.close()

    def published_frames(self) -> int:
        for ln in reversed(self.lines):
            m = re.search(r'published (\d+) frames', ln) or re.search(r'PUBLISHED (\d+)', ln)
            if m:
                return int(m.group(1))
        return 0


# ------------------------------------------------------------------------------------- camera mode
def camera_main(a) -> int:
    """--camera: a second camera process (the second_publisher fault).

    Prints READY, PUBLISHED N.
    """
    import cv2
    import numpy as np
    import rclpy
    from rclpy.node import Node
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from poseflow_ros.ros.conversions import bgr_to_image
    from poseflow_ros.ros.params import make_qos
    from poseflow_ros.video import VideoReader

    w, h = a.width, a.height
    images = []
    if a.video and Path(a.video).is_file():
        r = VideoReader(a.video)
        images = [cv2.resize(f, (w, h)) for i, f in zip(range(60), r) if i % 6 == 0]
        r.close()
    if not images:
        images = [np.tile(np.linspace(0, 255, w, dtype=np.uint8)[None, :, None], (h, 1, 3))]
    rclpy.init()
    node = Node('soak_second_camera')
    pub = node.create_publisher(Image, 'image', make_qos(a.reliability, 5))
    t_end = time.monotonic() + 10
    while pub.get_subscription_count() == 0 and time.monotonic() < t_end:
        time.sleep(0.05)
    print('READY', flush=True)
    n, period = 0, 1.0 / a.rate
    next_t = t0 = time.monotonic()
    while time.monotonic() - t0 < a.seconds:
        hd = Header(stamp=node.get_clock().now().to_msg(), frame_id=a.frame_id)
        pub.publish(bgr_to_image(images[n % len(images)], hd))
        n += 1
        next_t += period
        time.sleep(max(0.0, next_t - time.monotonic()))
    time.sleep(0.3)
    print(f'PUBLISHED {n}', flush=True)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


# ---------------------------------------------------------------------------------------- the soak
class Soak:
    def __init__(self, a):
        self.a = a
        out = Path(a.out)
        if out.suffix == '.json':
            self.dir, self.summary_path = out.parent, out
        else:
            self.dir, self.summary_path = out, out / 'summary.json'
        self.dir.mkdir(parents=True, exist_ok=True)
        self.stats_file = self.dir / 'node_stats.json'
        self.stats_file.unlink(missing_ok=True)
        for f in ('node.log', 'video_source.log', 'second_camera.log'):
            (self.dir / f).unlink(missing_ok=True)
        self.py = sys.executable
        self.lock = threading.Lock()
        self.pub_lock = threading.Lock()
        self.stop_faults = threading.Event()
        self.restarting = threading.Event()
        # outputs: per source frame_id -> count, latencies (ms); camera receive times (monotonic)
        # for recovery
        self.outputs = collections.Counter()
        self.latency = collections.defaultdict(list)
        self.camera_rx = []
        self.window_latency = []  # camera latencies since the last progress line
        self.diag = {}
        self.rss = []  # (t_s since soak start, MB)
        self.faults = collections.Counter()
        self.fault_log = []  # dicts: kind, t_start, t_end, ok, detail
        self.failures = []  # faults not answered as expected
        # frames this process (and the second camera) published, per kind
        self.sent = collections.Counter()
        self.camera_published = 0  # frames of the video_source instances that exited
        self.camera_restarts = 0
        self.camera_unexpected_exits = []
        self.sources = []  # every video_source Proc
        self.second_cameras = []
        self.interrupted = False
        self.kinds = [
            k for k in (a.faults.split(',') if a.faults not in ('', 'none') else []) if k
        ]
        unknown = [k for k in self.kinds if k not in FAULT_KINDS]
        if unknown:
            raise SystemExit(
                f'unknown fault kind(s) {unknown}; choose from {",".join(FAULT_KINDS)}'
            )

    # -------------------------------------------------------------- ROS side of this process
    def start_ros(self):
        import rclpy
        from diagnostic_msgs.msg import DiagnosticArray
        from lifecycle_msgs.srv import ChangeState, GetState
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.node import Node
        from rclpy.parameter_client import AsyncParameterClient
        from rclpy.signals import SignalHandlerOptions
        from sensor_msgs.msg import Image

        from poseflow_ros.msg import TrackedPoseArray
        from poseflow_ros.ros.params import make_qos

        rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
        self.rclpy = rclpy
        self.node = Node('soak')
        self.node.create_subscription(
            TrackedPoseArray, 'tracked_poses', self._on_poses, make_qos('reliable', 100)
        )
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diag, 10)
        self.pub = self.node.create_publisher(Image, 'image', make_qos('reliable', 5))
        self.params = AsyncParameterClient(self.node, 'pose_tracker')
        self.change_state = self.node.create_client(ChangeState, '/pose_tracker/change_state')
        self.get_state = self.node.create_client(GetState, '/pose_tracker/get_state')
        self.executor = SingleThreadedExecutor()
        self.executor.add_node(self.node)
        self.spin_thread = threading.Thread(target=self._spin, daemon=True)
        self.spin_thread.start()

    def stop_ros(self):
        """Stop spinning, join the spin thread, then destroy the node and shut the context down.

        In that order: a daemon spin thread still waiting in the middle layer when the interpreter
        exits aborted the tool ("terminate called without an active exception", rclpy issue 1484).
        """
        if not hasattr(self, 'executor'):
            return
        self.executor.shutdown(timeout_sec=5.0)
        self.spin_thread.join(timeout=10.0)
        if self.spin_thread.is_alive():
            print('soak: the spin thread did not stop within 10 s', flush=True)
        self.node.destroy_node()
        self.rclpy.try_shutdown()

    def _spin(self):
        try:
            self.executor.spin()
        except Exception:  # noqa: BLE001 -- executor shut down under us at the end
            pass

    def _on_poses(self, m):
        now_wall, now_mono = time.time(), time.monotonic()
        st = m.header.stamp
        lat = (now_wall - (st.sec + st.nanosec * 1e-9)) * 1e3
        src = m.header.frame_id
        with self.lock:
            self.outputs[src] += 1
            if abs(lat) < 600e3:
                self.latency[src].append(lat)
            if src == CAMERA_FRAME_ID:
                self.camera_rx.append(now_mono)
                self.window_latency.append(lat)

    def _on_diag(self, m):
        for s in m.status:
            if 'pose tracking' in s.name:
                with self.lock:
                    self.diag = {kv.key: kv.value for kv in s.values}
                    self.diag['_message'] = s.message

    def _wait_future(self, fut, timeout):
        t_end = time.monotonic() + timeout
        while not fut.done() and time.monotonic() < t_end:
            time.sleep(0.01)
        return fut.result() if fut.done() else None

    # -------------------------------------------------------------- images this process publishes
    def prepare_images(self):
        import cv2
        import numpy as np
        from sensor_msgs.msg import Image

        from poseflow_ros.ros.conversions import bgr_to_image
        from poseflow_ros.video import VideoReader

        r = VideoReader(self.a.video)
        frames = [f for i, f in zip(range(100), r) if i % 10 == 0]
        r.close()
        from std_msgs.msg import Header

        self.burst_msgs = [bgr_to_image(f, Header(frame_id='soak_burst')) for f in frames]
        self.big_msgs = [
            bgr_to_image(cv2.resize(f, (1280, 720)), Header(frame_id='soak_big'))
            for f in frames[:5]
        ]
        w, h = frames[0].shape[1], frames[0].shape[0]
        data = np.zeros((h, w, 3), np.uint8).tobytes()
        bad = []
        m = Image(height=h, width=w, encoding='yuv_nonsense', step=w * 3)  # unknown encoding
        m.data = data
        bad.append(('encoding', m))
        m = Image(height=h, width=w, encoding='bgr8', step=w * 3 + 64)  # data shorter than step*h
        m.data = data
        bad.append(('step', m))
        m = Image(height=0, width=0, encoding='bgr8', step=0)  # zero size
        bad.append(('zero_size', m))
        self.bad_msgs = bad

    def _publish(self, msg, frame_id):
        msg.header.stamp = self.node.get_clock().now().to_msg()
        msg.header.frame_id = frame_id
        with self.pub_lock:
            self.pub.publish(msg)

    def _bad_input_loop(self):
        i = 0
        while not self.stop_faults.wait(self.a.bad_every):
            kind, msg = self.bad_msgs[i % len(self.bad_msgs)]
            self._publish(msg, 'soak_bad')
            self.sent['bad_input'] += 1
            self.sent[f'bad_input_{kind}'] += 1
            i += 1

    # -------------------------------------------------------------- processes
    def start_node(self):
        cmd = [
            self.py,
            '-m',
            'poseflow_ros.ros.pose_tracker_node',
            '--ros-args',
            '-p',
            'device:=cpu',
            '-p',
            f'stats_file:={self.stats_file}',
        ]
        for p in self.a.param:
            cmd += ['-p', p]
        self.tracker = Proc('pose_tracker', cmd, self.dir / 'node.log')

    def start_camera(self):
        cmd = [
            self.py,
            '-m',
            'poseflow_ros.ros.video_source_node',
            '--ros-args',
            '-p',
            f'video_path:={self.a.video}',
            '-p',
            'loop:=true',
            '-p',
            'wait_for_subscribers:=10.0',
        ]
        self.source = Proc('video_source', cmd, self.dir / 'video_source.log')
        self.sources.append(self.source)

    def stop_camera(self):
        rc = self.source.stop(timeout=20)
        self.camera_published += self.source.published_frames()
        return rc

    # -------------------------------------------------------------- faults
    def _fault_second_publisher(self, n):
        rel = 'best_effort' if n % 2 == 0 else 'reliable'
        secs = self.a.fault_seconds
        cmd = [
            self.py,
            str(Path(__file__).resolve()),
            '--camera',
            '--width',
            '640',
            '--height',
            '480',
            '--rate',
            '15',
            '--seconds',
            str(secs),
            '--reliability',
            rel,
            '--frame-id',
            'soak_second',
            '--video',
            str(self.a.video),
        ]
        p = Proc('second_camera', cmd, self.dir / 'second_camera.log')
        self.second_cameras.append(p)
        try:
            rc = p.p.wait(timeout=secs + 40)
        except subprocess.TimeoutExpired:
            rc = p.stop(timeout=10)
        p._reader.join(timeout=5)
        n_pub = p.published_frames()
        self.sent['second_publisher'] += n_pub
        ok = rc == 0 and n_pub > 0
        return ok, f'{rel}, {n_pub} frames 640x480, rc {rc}'

    def _fault_burst(self, n):
        k = self.a.burst_frames
        t0 = time.monotonic()
        for i in range(k):
            self._publish(self.burst_msgs[i % len(self.burst_msgs)], 'soak_burst')
        self.sent['burst'] += k
        return True, f'{k} frames in {time.monotonic() - t0:.2f} s'

    def _fault_frame_size(self, n):
        t0 = time.monotonic()
        i, period = 0, 1.0 / 12.5
        while time.monotonic() - t0 < self.a.fault_seconds and not self.stop_faults.is_set():
            self._publish(self.big_msgs[i % len(self.big_msgs)], 'soak_big')
            i += 1
            time.sleep(max(0.0, t0 + i * period - time.monotonic()))
        self.sent['frame_size'] += i
        return True, f'{i} frames 1280x720 at 12.5 Hz'

    def _fault_params(self, n):
        from rclpy.parameter import Parameter, parameter_value_to_python

        if not self.params.wait_for_services(timeout_sec=5.0):
            return False, 'parameter services of /pose_tracker not available'
        names = ['detector_score_threshold', 'tracker.max_age', 'keypoint_score_threshold']
        if not hasattr(self, '_param_defaults'):
            r = self._wait_future(self.params.get_parameters(names), 5.0)
            if r is None:
                return False, 'get_parameters timed out'
            self._param_defaults = {
                nm: parameter_value_to_python(v) for nm, v in zip(names, r.values)
            }
        changed = {
            'detector_score_threshold': 0.3,
            'tracker.max_age': 60,
            'keypoint_score_threshold': 0.4,
        }
        values = changed if n % 2 == 0 else self._param_defaults
        problems = []
        r = self._wait_future(
            self.params.set_parameters([Parameter(k, value=v) for k, v in values.items()]), 5.0
        )
        if r is None:
            problems.append('set_parameters timed out')
        else:
            for k, res in zip(values, r.results):
                if not res.successful:
                    problems.append(f'valid {k}={values[k]!r} refused: {res.reason}')
        invalid = [
            ('detector_score_threshold', 1.5),
            ('tracker.low_score_threshold', 0.9),
            ('device', 'cuda'),
        ]
        refused = 0
        for k, v in invalid:
            r = self._wait_future(self.params.set_parameters([Parameter(k, value=v)]), 5.0)
            if r is None:
                problems.append(f'invalid {k}={v!r}: no answer')
            elif r.results[0].successful:
                problems.append(f'invalid {k}={v!r} was ACCEPTED')
            else:
                refused += 1
        r = self._wait_future(self.params.get_parameters(names), 5.0)
        if r is not None:
            got = {nm: parameter_value_to_python(pv) for nm, pv in zip(names, r.values)}
            for nm in names:
                if abs(got[nm] - values[nm]) > 1e-9:
                    problems.append(f'{nm} reads {got[nm]} after set {values[nm]}')
        self.faults['params_invalid_refused'] += refused
        return not problems, (
            f'set {values}; {refused}/{len(invalid)} invalid refused'
            + ('; ' + '; '.join(problems) if problems else '')
        )

    def _transition(self, tid):
        from lifecycle_msgs.srv import ChangeState

        if not self.change_state.wait_for_service(timeout_sec=5.0):
            return False
        req = ChangeState.Request()
        req.transition.id = tid
        r = self._wait_future(self.change_state.call_async(req), 20.0)
        return bool(r is not None and r.success)

    def _node_state(self):
        from lifecycle_msgs.srv import GetState

        if not self.get_state.wait_for_service(timeout_sec=5.0):
            return '?'
        r = self._wait_future(self.get_state.call_async(GetState.Request()), 5.0)
        return r.current_state.label if r is not None else '?'

    def _fault_lifecycle(self, n):
        from lifecycle_msgs.msg import Transition

        t0 = time.monotonic()
        ok_d = self._transition(Transition.TRANSITION_DEACTIVATE)
        t_d = time.monotonic() - t0
        mid = self._node_state()
        time.sleep(self.a.inactive_seconds)
        t1 = time.monotonic()
        ok_a = self._transition(Transition.TRANSITION_ACTIVATE)
        t_a = time.monotonic() - t1
        end = self._node_state()
        ok = ok_d and ok_a and mid == 'inactive' and end == 'active'
        return ok, (
            f'deactivate {"ok" if ok_d else "FAILED"} ({t_d:.2f} s, state {mid}), '
            f'activate {"ok" if ok_a else "FAILED"} ({t_a:.2f} s, state {end})'
        )

    def _fault_camera_restart(self, n):
        self.restarting.set()
        try:
            rc = self.stop_camera()
            n_pub = self.sources[-1].published_frames()
            self.start_camera()
        finally:
            self.restarting.clear()
        self.camera_restarts += 1
        return rc == 0, f'video_source stopped with rc {rc} after {n_pub} frames, started again'

    def _fault_loop(self, t_soak0, period, first_at, last_start):
        n_kind = collections.Counter()
        k = 0
        next_t = t_soak0 + first_at
        while not self.stop_faults.is_set():
            now = time.monotonic()
            if now - t_soak0 > last_start:
                return
            if self.stop_faults.wait(max(0.0, next_t - now)):
                return
            if time.monotonic() - t_soak0 > last_start:
                return
            if not self.kinds:
                return
            kind = self.kinds[k % len(self.kinds)]
            k += 1
            ts = time.monotonic()
            try:
                ok, detail = getattr(self, f'_fault_{kind}')(n_kind[kind])
            except Exception as e:  # noqa: BLE001 -- the soak must go on and report it
                ok, detail = False, f'{type(e).__name__}: {e}'
            te = time.monotonic()
            n_kind[kind] += 1
            self.faults[kind] += 1
            rec = {
                'kind': kind,
                't_start_s': round(ts - t_soak0, 2),
                't_end_s': round(te - t_soak0, 2),
                'ok': ok,
                'detail': detail,
                '_t_end_mono': te,
            }
            self.fault_log.append(rec)
            if not ok:
                self.failures.append(f'{kind} at {ts - t_soak0:.0f} s: {detail}')
            print(
                f'  fault {kind} at {ts - t_soak0:5.1f} s ({te - ts:.1f} s): '
                f'{"ok" if ok else "FAILED"}: {detail}',
                flush=True,
            )
            next_t = max(next_t + period, time.monotonic() + 2.0)

    # -------------------------------------------------------------- run
    def run(self) -> dict:
        a = self.a
        domain = setup_dds_env()
        print(f'soak: {a.seconds:.0f} s, ROS_DOMAIN_ID={domain}, out {self.dir}', flush=True)
        self.prepare_images()
        self.start_ros()
        t_boot = time.monotonic()
        self.start_node()
        while self.node.count_publishers('tracked_poses') == 0:
            if not self.tracker.alive():
                raise RuntimeError(
                    'pose_tracker exited during start-up:\n' + '\n'.join(self.tracker.lines[-30:])
                )
            if time.monotonic() - t_boot > 180:
                raise RuntimeError('pose_tracker did not start within 180 s')
            time.sleep(0.1)
        node_start_s = time.monotonic() - t_boot
        self.start_camera()
        t_cam = time.monotonic()
        while not self.camera_rx:
            if time.monotonic() - t_cam > 60:
                raise RuntimeError(
                    'no tracked_poses from the camera within 60 s:\n'
                    + '\n'.join(self.tracker.lines[-20:] + self.source.lines[-20:])
                )
            time.sleep(0.05)
        print(
            f'soak: node up in {node_start_s:.1f} s, first output '
            f'{time.monotonic() - t_cam:.1f} s after the camera started; injecting faults',
            flush=True,
        )

        # schedule: a fault every `period` s, scaled so that a short run still gets each kind once
        t0 = time.monotonic()
        lead, tail = min(4.0, a.seconds * 0.1), min(10.0, max(4.0, a.seconds * 0.15))
        span = max(1.0, a.seconds - lead - tail)
        period = min(a.fault_period, max(6.0, span / max(1, len(self.kinds))))
        faults = threading.Thread(
            target=self._fault_loop, args=(t0, period, lead, a.seconds - tail), daemon=True
        )
        bad = threading.Thread(target=self._bad_input_loop, daemon=True)
        faults.start()
        if a.bad_input:
            bad.start()
        next_rss, next_progress = t0, t0 + a.progress_every
        while True:
            now = time.monotonic()
            el = now - t0
            if el >= a.seconds:
                break
            if now >= next_rss:
                mb = rss_mb(self.tracker.pid)
                if mb is not None:
                    self.rss.append((el, mb))
                next_rss += a.rss_every
            if now >= next_progress:
                self._progress(el)
                next_progress += a.progress_every
            if not self.tracker.alive():
                print(
                    f'soak: pose_tracker DIED (rc {self.tracker.p.returncode}) at {el:.1f} s',
                    flush=True,
                )
                break
            if not self.restarting.is_set() and not self.source.alive():
                self.camera_unexpected_exits.append(
                    f'video_source exited with rc {self.source.p.returncode} at {el:.1f} s'
                )
                self.camera_published += self.source.published_frames()
                self.start_camera()
            time.sleep(0.1)
        duration = time.monotonic() - t0
        self.stop_faults.set()
        faults.join(timeout=60)
        if bad.is_alive():
            bad.join(timeout=10)
        mb = rss_mb(self.tracker.pid)
        if mb is not None:
            self.rss.append((time.monotonic() - t0, mb))
        node_alive = self.tracker.alive()
        cam_rc = self.stop_camera()
        # let the last frames come through: no output for 2 s (at most 15 s)
        t_q = time.monotonic()
        while time.monotonic() - t_q < 15:
            with self.lock:
                n0 = sum(self.outputs.values())
            time.sleep(2.0)
            with self.lock:
                if sum(self.outputs.values()) == n0:
                    break
        node_rc = self.tracker.stop(timeout=60)
        time.sleep(0.5)
        self.stop_ros()
        for p in self.sources + self.second_cameras + [self.tracker]:
            p.close()
        return self._summary(duration, node_alive, node_rc, cam_rc, node_start_s, period)

    def abort(self):
        """Stop every child process we started (in order: cameras, then the node)."""
        self.stop_faults.set()
        for p in (
            self.second_cameras
            + self.sources
            + ([self.tracker] if hasattr(self, 'tracker') else [])
        ):
            try:
                p.stop(timeout=20)
                p.close()
            except Exception:  # noqa: BLE001
                pass
        try:
            self.stop_ros()
        except Exception:  # noqa: BLE001 -- best effort on the way out of a failed run
            pass

    def _progress(self, el):
        with self.lock:
            n_out = sum(self.outputs.values())
            n_cam = self.outputs[CAMERA_FRAME_ID]
            win, self.window_latency = self.window_latency, []
            d = dict(self.diag)
        rss = f'{self.rss[-1][1]:.0f} MB' if self.rss else '?'
        lat = (
            f'p50 {percentile(win, 50):.0f} p99 {percentile(win, 99):.0f} ms'
            if win
            else 'no camera output'
        )
        n_f = sum(self.faults[k] for k in FAULT_KINDS)
        trouble = len(self.tracker.trouble)
        print(
            f'[soak {el:6.0f}/{self.a.seconds:.0f} s] outputs {n_out} (camera {n_cam}), node '
            f'processed {d.get("frames_processed", "?")} / received '
            f'{d.get("frames_received", "?")}, state {d.get("lifecycle_state", "?")}, rss '
            f'{rss}, camera latency (last {self.a.progress_every:.0f} s) {lat}, faults {n_f}, '
            f'failed {len(self.failures)}, unexpected log errors {trouble}; node loss counters: '
            f'transport {d.get("frames_lost_in_transport", "?")}, stamp gaps '
            f'{d.get("frames_missing_by_stamp_gaps", "?")}',
            flush=True,
        )

    # -------------------------------------------------------------- summary
    def _summary(self, duration, node_alive, node_rc, cam_rc, node_start_s, period) -> dict:
        a = self.a
        stats = {}
        if self.stats_file.is_file():
            try:
                stats = json.loads(self.stats_file.read_text())
            except ValueError:
                stats = {}
        processed = find_counter(stats, 'processed')
        processed_src = 'stats_file'
        if processed is None:
            try:
                processed, processed_src = int(self.diag.get('frames_processed')), '/diagnostics'
            except (TypeError, ValueError):
                processed, processed_src = None, 'none'
        counter_errors = find_counter(stats, 'errors') or 0
        bad_input_node = find_counter(stats, 'bad_input')
        n_out = sum(self.outputs.values())
        ratio = n_out / processed if processed else None
        cam = self.latency.get(CAMERA_FRAME_ID, [])
        # the second half of the RSS samples, as the goal says
        half = self.rss[len(self.rss) // 2 :]
        slope = slope_per_min(half)
        trouble = list(self.tracker.trouble)
        # worker exceptions are logged ('frame skipped: <Type>: ...') and counted in
        # counters.errors: count once
        log_only = [ln for ln in trouble if 'frame skipped: ' not in ln or 'bad image' in ln]
        unhandled = counter_errors + len(log_only)
        # recovery: first camera output after each fault ended
        for rec in self.fault_log:
            te = rec.pop('_t_end_mono')
            i = bisect.bisect_right(self.camera_rx, te)
            rec['camera_output_after_s'] = (
                round(self.camera_rx[i] - te, 2) if i < len(self.camera_rx) else None
            )
            if rec['camera_output_after_s'] is None and rec['t_end_s'] < duration - 10:
                self.failures.append(
                    f'no camera output after {rec["kind"]} at {rec["t_start_s"]:.0f} s'
                )
        self.failures.extend(self.camera_unexpected_exits)
        src_published = self.camera_published
        own = {
            k: v
            for k, v in self.sent.items()
            if k in ('burst', 'frame_size', 'bad_input', 'second_publisher')
        }
        lat_by_src = {
            src: {
                'n': len(v),
                'p50': round(percentile(v, 50), 1),
                'p99': round(percentile(v, 99), 1),
                'max': round(max(v), 1),
            }
            for src, v in self.latency.items()
            if v
        }
        p99 = percentile(cam, 99)
        judge_rss = duration >= a.rss_goal_min_s
        goals = {
            f'rss_slope_mb_per_min<={a.rss_slope_goal:g}': (
                slope is not None and slope <= a.rss_slope_goal
            )
            if judge_rss
            else f'not judged (run shorter than --rss-goal-min-s {a.rss_goal_min_s:.0f} s)',
            'unhandled_errors==0': unhandled == 0,
            'node_alive': bool(node_alive) and node_rc == 0,
            'outputs>=99%_of_processed': ratio is not None and ratio >= 0.99,
            f'camera_latency_p99<{a.latency_goal_ms:.0f}ms': p99 is not None
            and p99 < a.latency_goal_ms,
            'faults_answered_as_expected': not self.failures,
            'ran_to_the_end': not self.interrupted,
        }
        ok = all(v is True or isinstance(v, str) for v in goals.values())
        # not goals: things worth a look that the numbers above show
        notes = []
        published_all = src_published + sum(own.values())
        gaps = find_counter(stats, 'missing_by_stamp_gaps')
        if gaps is not None and gaps > published_all:
            notes.append(
                f"node counter missing_by_stamp_gaps = {gaps} exceeds every frame published "
                f"({published_all}): the stamp-gap loss estimate is implausible"
            )
        if bad_input_node is not None and bad_input_node > self.sent['bad_input']:
            notes.append(
                f'node counted {bad_input_node} bad frames, {self.sent["bad_input"]} were sent'
            )
        summary = {
            'ok': ok,
            'goals': goals,
            'duration_s': round(duration, 1),
            'fault_period_s': round(period, 1),
            'fault_kinds': ','.join(self.kinds) or 'none',
            'node_startup_s': round(node_start_s, 1),
            'ros_domain_id': int(os.environ.get('ROS_DOMAIN_ID', '0')),
            'frames_published': src_published + sum(own.values()),
            'frames_published_by_source': {'video_source': src_published, **own},
            'video_source_runs': len(self.sources),
            'frames_received_by_node': find_counter(stats, 'received'),
            'frames_processed': processed,
            'frames_processed_from': processed_src,
            'frames_dropped_latest_wins': find_counter(stats, 'dropped'),
            'frames_lost_in_transport': find_counter(stats, 'lost_in_transport'),
            'outputs_received': n_out,
            'outputs_by_source': dict(self.outputs),
            'outputs_over_processed': round(ratio, 4) if ratio is not None else None,
            'rss_start_mb': round(self.rss[0][1], 1) if self.rss else None,
            'rss_end_mb': round(self.rss[-1][1], 1) if self.rss else None,
            'rss_max_mb': round(max(m for _, m in self.rss), 1) if self.rss else None,
            'rss_slope_mb_per_min': round(slope, 3) if slope is not None else None,
            'rss_slope_all_mb_per_min': (
                round(slope_per_min(self.rss), 3) if slope_per_min(self.rss) is not None else None
            ),
            'rss_samples': [[round(t, 1), round(m, 1)] for t, m in self.rss],
            'latency_ms_p50': round(percentile(cam, 50), 1) if cam else None,
            'latency_ms_p99': round(p99, 1) if cam else None,
            'latency_ms_max': round(max(cam), 1) if cam else None,
            'latency_ms_by_source': lat_by_src,
            'errors': unhandled,
            'errors_detail': {
                'node_counter_errors': counter_errors,
                'unexpected_log_lines': len(log_only),
                'unexpected_log_examples': trouble[:20],
                'video_source_log_errors': sum(len(p.trouble) for p in self.sources),
                'second_camera_log_errors': sum(len(p.trouble) for p in self.second_cameras),
            },
            'bad_input': {
                'sent': self.sent['bad_input'],
                'by_kind': {
                    k[len('bad_input_') :]: v
                    for k, v in self.sent.items()
                    if k.startswith('bad_input_')
                },
                'counted_by_node': bad_input_node,
                'expected_log_lines': self.tracker.expected_bad,
            },
            'warnings': dict(self.tracker.warnings.most_common(10)),
            'faults_injected': {k: self.faults[k] for k in FAULT_KINDS},
            'params_invalid_refused': self.faults['params_invalid_refused'],
            'fault_failures': self.failures,
            'observations': notes,
            'faults': self.fault_log,
            'node_alive': bool(node_alive),
            'node_exit_code': node_rc,
            'video_source_exit_code_at_end': cam_rc,
            'node_stats_counters': stats.get('counters')
            if isinstance(stats.get('counters'), dict)
            else None,
            'files': {
                'node_log': str(self.dir / 'node.log'),
                'node_stats': str(self.stats_file),
                'video_source_log': str(self.dir / 'video_source.log'),
            },
        }
        self.summary_path.write_text(json.dumps(summary, indent=2))
        return summary


def report(s: dict, path) -> None:
    def g(v):
        return 'PASS' if v is True else ('FAIL' if v is False else v)

    print('=' * 100)
    print(
        f"soak {s['duration_s']:.0f} s (a fault every {s['fault_period_s']} s, kinds "
        f"{s['fault_kinds']}): {'ALL GOALS MET' if s['ok'] else 'GOALS NOT MET'}"
    )
    print(f"frames published {s['frames_published']} {s['frames_published_by_source']}")
    print(
        f"node: received {s['frames_received_by_node']}, processed {s['frames_processed']} "
        f"(latest-wins dropped {s['frames_dropped_latest_wins']}, lost in transport "
        f"{s['frames_lost_in_transport']}); outputs received {s['outputs_received']} = "
        f"{100 * (s['outputs_over_processed'] or 0):.2f} % of processed; by source "
        f"{s['outputs_by_source']}"
    )
    print(
        f"rss {s['rss_start_mb']} -> {s['rss_end_mb']} MB (max {s['rss_max_mb']}), slope over "
        f"the second half {s['rss_slope_mb_per_min']} MB/min (whole run "
        f"{s['rss_slope_all_mb_per_min']})"
    )
    print(
        f"camera latency p50 {s['latency_ms_p50']} ms, p99 {s['latency_ms_p99']} ms, max "
        f"{s['latency_ms_max']} ms; "
        + ', '.join(
            f"{k} p99 {v['p99']}"
            for k, v in s['latency_ms_by_source'].items()
            if k != CAMERA_FRAME_ID
        )
    )
    print(
        f"faults injected {s['faults_injected']} (invalid parameters refused "
        f"{s['params_invalid_refused']})"
    )
    for f in s['fault_failures']:
        print(f'  FAILED: {f}')
    bi = s['bad_input']
    print(
        f"bad input: sent {bi['sent']} {bi['by_kind']}, counted by the node "
        f"{bi['counted_by_node']}, expected log lines {bi['expected_log_lines']}"
    )
    e = s['errors_detail']
    print(
        f"unhandled errors {s['errors']} (node counter {e['node_counter_errors']}, unexpected "
        f"log lines {e['unexpected_log_lines']})"
    )
    for ln in e['unexpected_log_examples'][:5]:
        print(f'  {ln[:160]}')
    for n in s['observations']:
        print(f'  note: {n}')
    for w, n in list(s['warnings'].items())[:3]:
        print(f'  warning x{n}: {w[:150]}')
    print(f"node alive until the end: {s['node_alive']}, exit code {s['node_exit_code']}")
    print('goals: ' + '; '.join(f'{k}: {g(v)}' for k, v in s['goals'].items()))
    print(f'wrote {path}')
    print('=' * 100)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        '--seconds', type=float, default=1800.0, help='soak duration after start-up (default 1800)'
    )
    ap.add_argument(
        '--out',
        default=str(ROOT / 'out' / 'soak'),
        help='output directory (summary.json, logs, node stats); a .json path names the summary',
    )
    ap.add_argument('--video', default='')
    add_param_option(ap)
    ap.add_argument(
        '--faults',
        default=','.join(FAULT_KINDS),
        help='fault kinds to cycle through, comma-separated, in this order (none = no faults)',
    )
    ap.add_argument(
        '--bad-input',
        action=argparse.BooleanOptionalAction,
        default=True,
        help='send a bad frame every --bad-every seconds',
    )
    ap.add_argument(
        '--fault-period', type=float, default=25.0, help='seconds between faults in long runs'
    )
    ap.add_argument(
        '--fault-seconds',
        type=float,
        default=3.0,
        help='how long the second publisher and the 1280x720 frames last',
    )
    ap.add_argument(
        '--inactive-seconds', type=float, default=2.0, help='time between deactivate and activate'
    )
    ap.add_argument('--burst-frames', type=int, default=200)
    ap.add_argument(
        '--bad-every', type=float, default=3.0, help='seconds between bad-input frames'
    )
    ap.add_argument('--rss-every', type=float, default=2.0)
    ap.add_argument('--progress-every', type=float, default=10.0)
    ap.add_argument('--rss-slope-goal', type=float, default=0.5, help='MB/min')
    ap.add_argument(
        '--rss-goal-min-s',
        type=float,
        default=600.0,
        help='judge the RSS slope only in runs at least this long (short runs are too noisy)',
    )
    ap.add_argument('--latency-goal-ms', type=float, default=1000.0)
    # --camera: run as the second publisher (internal)
    ap.add_argument('--camera', action='store_true', help=argparse.SUPPRESS)
    ap.add_argument('--width', type=int, default=640, help=argparse.SUPPRESS)
    ap.add_argument('--height', type=int, default=480, help=argparse.SUPPRESS)
    ap.add_argument('--rate', type=float, default=15.0, help=argparse.SUPPRESS)
    ap.add_argument('--reliability', default='reliable', help=argparse.SUPPRESS)
    ap.add_argument('--frame-id', default='soak_second', help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    try:
        # the node types the values itself; a bad item is refused here, before anything starts
        parse_params(a.param)
    except ValueError as e:
        ap.error(str(e))
    if a.camera:
        return camera_main(a)
    if not a.video:
        from poseflow_ros.paths import shared_dir

        a.video = str(shared_dir() / 'data' / 'videos' / 'walk.small.mp4')
    if not Path(a.video).is_file():
        print(f'video not found: {a.video} (pass --video or set POSEFLOW_SHARED)', file=sys.stderr)
        return 2
    soak = Soak(a)
    stop = {'n': 0}

    def on_signal(
        *_,
    ):  # Ctrl-C: end the soak early, still stop everything in order and write the summary
        stop['n'] += 1
        soak.interrupted = True
        a.seconds = 0.0
        if stop['n'] > 1:
            raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        s = soak.run()
    except (RuntimeError, KeyboardInterrupt) as e:
        print(f'soak: {type(e).__name__}: {e}', file=sys.stderr)
        soak.abort()
        return 1
    except BaseException:
        soak.abort()
        raise
    report(s, soak.summary_path)
    return 0 if s['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
