"""The demo's ROS side: the two nodes as processes, their output recorded over DDS in this one.

``pose_tracker`` and ``video_source`` run as processes; see :mod:`poseflow_ros.demo` for the
command line.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..paths import REPO_ROOT
from ..run_summary import write_summary


def _setup_dds_env() -> None:
    # Keep the demo on this machine and away from other ROS graphs unless the user chose otherwise.
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(102, 200)))


def _ros_value(v) -> str:
    return (
        json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)
    )


def run_demo(
    video: Path,
    out_dir: Path,
    params_file: Path,
    extra: dict,
    max_seconds: float,
    progress: bool = True,
) -> dict:
    _setup_dds_env()
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image
    from tqdm import tqdm

    from ..decode import decode_raw
    from ..video import VideoReader, VideoWriter
    from .process import install_stop_handlers

    from poseflow_ros.msg import TrackedPoseArray

    reader = VideoReader(video)
    fps, n_frames = reader.fps, reader.frame_count
    reader.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    stats_file = out_dir / 'node_stats.json'
    stats_file.unlink(missing_ok=True)

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    # Ctrl-C / SIGTERM: stop the source, then the node, write the summary
    stop = install_stop_handlers()
    rec = Node('demo_recorder')
    writer = VideoWriter(out_dir / 'annotated.mp4', fps)
    got = {'poses': 0, 'first': None, 'last': None, 'persons': []}
    ids = set()
    lock = threading.Lock()
    # the live line: frames tracked so far, end-to-end FPS, persons in the last frame, track ids
    # so far
    bar = tqdm(
        total=n_frames if n_frames > 0 else None,
        unit='frame',
        desc='tracked',
        file=sys.stderr,
        mininterval=1.0,
        dynamic_ncols=True,
        disable=not progress,
    )

    def on_poses(m):
        with lock:
            now = time.perf_counter()
            got['poses'] += 1
            got['first'] = got['first'] or now
            got['last'] = now
            got['persons'].append(len(m.poses))
            ids.update(p.track_id for p in m.poses)
            fps = (got['poses'] - 1) / (now - got['first']) if now > got['first'] else 0.0
            bar.set_postfix_str(
                f'{fps:.1f} FPS, {len(m.poses)} persons, {len(ids)} ids', refresh=False
            )
            bar.update(1)

    def on_debug(m):
        writer.write(decode_raw(m.data, m.height, m.width, m.encoding, m.step))

    rec.create_subscription(TrackedPoseArray, 'tracked_poses', on_poses, 50)
    rec.create_subscription(Image, 'debug_image', on_debug, 50)
    executor = SingleThreadedExecutor()
    executor.add_node(rec)
    spin = threading.Thread(target=executor.spin, daemon=True)
    spin.start()

    py = sys.executable
    overrides = {'publish_debug_image': True, 'stats_file': str(stats_file), **extra}
    node_cmd = [
        py,
        '-m',
        'poseflow_ros.ros.pose_tracker_node',
        '--ros-args',
        '--params-file',
        str(params_file),
    ]
    for k, v in overrides.items():
        node_cmd += ['-p', f'{k}:={_ros_value(v)}']
    t_start = time.perf_counter()
    node = subprocess.Popen(node_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    node_log = []
    threading.Thread(target=lambda: node_log.extend(node.stdout), daemon=True).start()
    while rec.count_publishers('tracked_poses') == 0:
        if stop.is_set():
            node.send_signal(signal.SIGINT)
            node.wait(timeout=30)
            raise KeyboardInterrupt
        if node.poll() is not None:
            raise RuntimeError('pose_tracker exited during start-up:\n' + ''.join(node_log))
        if time.perf_counter() - t_start > 120:
            raise RuntimeError('pose_tracker did not start within 120 s')
        time.sleep(0.1)
    init_s = time.perf_counter() - t_start
    time.sleep(1.0)  # let discovery settle so the first frames are not lost

    src_cmd = [
        py,
        '-m',
        'poseflow_ros.ros.video_source_node',
        '--ros-args',
        '--params-file',
        str(REPO_ROOT / 'config' / 'video_source.yaml'),
        '-p',
        f'video_path:={video}',
        '-p',
        'wait_for_subscribers:=20.0',
    ]
    t0 = time.perf_counter()
    src = subprocess.Popen(src_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while src.poll() is None and not stop.is_set() and time.perf_counter() - t0 < max_seconds:
        time.sleep(0.1)
    if src.poll() is None:  # Ctrl-C or time limit: stop the camera like a user would
        src.send_signal(signal.SIGINT)
    src_out = src.communicate(timeout=30)[0]
    # wait until the last frame has come through (no output for 2 s)
    while not stop.is_set():
        with lock:
            last = got['last'] or t0
        if time.perf_counter() - last > 2.0:
            break
        time.sleep(0.1)
    node.send_signal(signal.SIGINT)
    try:
        node_rc = node.wait(timeout=30)
    except subprocess.TimeoutExpired:
        node.kill()
        node_rc = 'killed after 30 s'
    if node_rc != 0 or src.returncode != 0:
        print(
            f'warning: pose_tracker exit code {node_rc}, video_source {src.returncode}:\n'
            + ''.join(node_log[-20:]),
            file=sys.stderr,
        )
    executor.shutdown()
    # a spin thread still inside rclpy at interpreter exit aborts the process
    spin.join(timeout=10.0)
    bar.close()
    rec.destroy_node()
    rclpy.try_shutdown()
    writer.close()
    if not stats_file.is_file():
        raise RuntimeError('pose_tracker wrote no stats:\n' + ''.join(node_log[-30:]))
    st = json.loads(stats_file.read_text())
    c = st['counters']
    ppf = st['persons_per_frame']  # running summary from the node (constant size)
    ids = st['track_ids']
    active = (got['last'] - got['first']) if got['poses'] > 1 else 0.0
    stages = st['stage_ms']
    published = _published(src_out)
    summary = {
        'video': str(video),
        'video_fps': fps,
        'video_frames': n_frames,
        'device': st['device'],
        'pose_backend': st['pose_backend'],
        'pose_runtime': st['pose_runtime'],
        'pose_precision': st.get('pose_precision', 'fp32'),
        'overlap': st.get('overlap', ''),
        'frames_overlapped': st.get('overlap_frames', 0),
        'overlap_switches': st.get('overlap_switches', 0),
        'detector': st['detector'],
        'embedder': st['embedder'],
        'frames_published': published,
        'frames_received_by_node': c.get('received', 0),
        'frames_processed': c.get('processed', 0),
        'received_fraction': c.get('received', 0) / published if published > 0 else 0.0,
        'processed_fraction': c.get('processed', 0) / published if published > 0 else 0.0,
        'frames_dropped_latest_wins': c.get('dropped', 0),
        'frames_not_received': max(0, published - c.get('received', 0)),
        'frames_lost_in_transport_reported_by_node': c.get('lost_in_transport', 0),
        'subscription_reliability': st.get('subscription_reliability', ''),
        'exit_codes': {'pose_tracker': node_rc, 'video_source': src.returncode},
        'interrupted': stop.is_set(),
        'bad_input_frames': c.get('bad_input', 0),
        'tracked_pose_msgs_received_by_subscriber': got['poses'],
        'annotated_frames_written': writer.frames,
        'persons_per_frame': {
            'mean': float(ppf['mean']),
            'max': int(ppf['max']),
            'frames_with_persons': int(ppf['frames_with_persons']),
            'histogram': {str(k): int(v) for k, v in ppf['histogram'].items()},
        },
        'distinct_track_ids': int(ids['distinct']),
        'highest_track_id': int(ids['highest']),
        'recent_track_ids': list(ids['recent']),
        'end_to_end_fps': (got['poses'] - 1) / active if active > 0 else 0.0,
        'processing_fps': 1000.0 / stages['total']['mean'] if 'total' in stages else 0.0,
        'latency_ms': stages.get('latency', {}),
        'stage_ms': {
            k: {kk: round(vv, 3) for kk, vv in v.items()}
            for k, v in stages.items()
            if k != 'latency'
        },
        'node_startup_seconds': init_s,
        'wall_seconds': time.perf_counter() - t0,
    }
    return write_summary(out_dir, summary)


def _published(log: str) -> int:
    for line in (log or '').splitlines()[::-1]:
        if 'published' in line and 'frames' in line:
            try:
                return int(line.split('published')[-1].split()[0])
            except ValueError:
                pass
    return -1
