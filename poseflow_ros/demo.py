"""The bundled demo: a real video through the ROS nodes over real DDS, with a summary.

    python -m poseflow_ros.demo [--video PATH] [--out out/demo] [--params config/pose_tracking.yaml]

Three processes, as on a robot: ``video_source`` publishes the video at its frame rate,
``pose_tracker`` (params from --params, plus publish_debug_image) tracks people, and this process
records ``tracked_poses`` and ``debug_image`` on the other end of DDS. It writes
``annotated.mp4`` and ``summary.json``: frames published/processed/dropped, persons per frame,
distinct track ids, end-to-end FPS, latency and per-stage milliseconds (from the node's stats_file).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from .paths import REPO_ROOT, shared_dir


def _setup_dds_env() -> None:
    # Keep the demo on this machine and away from other ROS graphs unless the user chose otherwise.
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(102, 200)))


def _ros_value(v) -> str:
    return json.dumps(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else str(v)


def run_demo(video: Path, out_dir: Path, params_file: Path, extra: dict, max_seconds: float) -> dict:
    _setup_dds_env()
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image

    from .decode import decode_raw
    from .ros.process import install_stop_handlers
    from .video import VideoReader, VideoWriter

    from poseflow_ros.msg import TrackedPoseArray

    reader = VideoReader(video)
    fps, n_frames = reader.fps, reader.frame_count
    reader.close()
    out_dir.mkdir(parents=True, exist_ok=True)
    stats_file = out_dir / 'node_stats.json'
    stats_file.unlink(missing_ok=True)

    rclpy.init(signal_handler_options=SignalHandlerOptions.NO)
    stop = install_stop_handlers()    # Ctrl-C / SIGTERM: stop the source, then the node, write the summary
    rec = Node('demo_recorder')
    writer = VideoWriter(out_dir / 'annotated.mp4', fps)
    got = {'poses': 0, 'first': None, 'last': None, 'persons': []}
    lock = threading.Lock()

    def on_poses(m):
        with lock:
            now = time.perf_counter()
            got['poses'] += 1
            got['first'] = got['first'] or now
            got['last'] = now
            got['persons'].append(len(m.poses))

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
    node_cmd = [py, '-m', 'poseflow_ros.ros.pose_tracker_node', '--ros-args', '--params-file', str(params_file)]
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
    time.sleep(1.0)   # let discovery settle so the first frames are not lost

    src_cmd = [py, '-m', 'poseflow_ros.ros.video_source_node', '--ros-args',
               '--params-file', str(REPO_ROOT / 'config' / 'video_source.yaml'),
               '-p', f'video_path:={video}', '-p', 'wait_for_subscribers:=20.0']
    t0 = time.perf_counter()
    src = subprocess.Popen(src_cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    while src.poll() is None and not stop.is_set() and time.perf_counter() - t0 < max_seconds:
        time.sleep(0.1)
    if src.poll() is None:                 # Ctrl-C or time limit: stop the camera like a user would
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
        print(f'warning: pose_tracker exit code {node_rc}, video_source {src.returncode}:\n'
              + ''.join(node_log[-20:]), file=sys.stderr)
    executor.shutdown()
    rec.destroy_node()
    rclpy.try_shutdown()
    writer.close()
    if not stats_file.is_file():
        raise RuntimeError('pose_tracker wrote no stats:\n' + ''.join(node_log[-30:]))
    st = json.loads(stats_file.read_text())
    c = st['counters']
    ppf = st['persons_per_frame']          # running summary from the node (constant size)
    ids = st['track_ids']
    active = (got['last'] - got['first']) if got['poses'] > 1 else 0.0
    stages = st['stage_ms']
    published = _published(src_out)
    summary = {
        'video': str(video), 'video_fps': fps, 'video_frames': n_frames,
        'device': st['device'], 'pose_backend': st['pose_backend'], 'pose_runtime': st['pose_runtime'],
        'detector': st['detector'], 'embedder': st['embedder'],
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
            'mean': float(ppf['mean']), 'max': int(ppf['max']),
            'frames_with_persons': int(ppf['frames_with_persons']),
            'histogram': {str(k): int(v) for k, v in ppf['histogram'].items()},
        },
        'distinct_track_ids': int(ids['distinct']),
        'highest_track_id': int(ids['highest']),
        'recent_track_ids': list(ids['recent']),
        'end_to_end_fps': (got['poses'] - 1) / active if active > 0 else 0.0,
        'processing_fps': 1000.0 / stages['total']['mean'] if 'total' in stages else 0.0,
        'latency_ms': stages.get('latency', {}),
        'stage_ms': {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in stages.items() if k != 'latency'},
        'node_startup_seconds': init_s,
        'wall_seconds': time.perf_counter() - t0,
        'machine': {'cpus': os.cpu_count(), 'python': platform.python_version(), 'arch': platform.machine()},
    }
    (out_dir / 'summary.json').write_text(json.dumps(summary, indent=2))
    return summary


def _published(log: str) -> int:
    for line in (log or '').splitlines()[::-1]:
        if 'published' in line and 'frames' in line:
            try:
                return int(line.split('published')[-1].split()[0])
            except ValueError:
                pass
    return -1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--video', default=str(shared_dir() / 'data' / 'videos' / 'walk.small.mp4'))
    ap.add_argument('--out', default=str(REPO_ROOT / 'out' / 'demo'))
    ap.add_argument('--params', default=str(REPO_ROOT / 'config' / 'pose_tracking.yaml'))
    ap.add_argument('-p', '--param', action='append', default=[], metavar='NAME:=VALUE',
                    help='extra pose_tracker parameter, e.g. -p device:=cpu -p embedder:=color')
    ap.add_argument('--max-seconds', type=float, default=900.0)
    a = ap.parse_args(argv)
    video = Path(a.video)
    if not video.is_file():
        print(f'video not found: {video} (pass --video or set POSEFLOW_SHARED)', file=sys.stderr)
        return 2
    import yaml
    extra = {}
    for kv in a.param:
        k, _, v = kv.partition(':=')
        extra[k] = yaml.safe_load(v)
    try:
        s = run_demo(video, Path(a.out), Path(a.params), extra, a.max_seconds)
    except KeyboardInterrupt:
        print('interrupted during start-up; nothing to summarise')
        return 0
    if s['interrupted']:
        print('interrupted: summary of the frames so far')
    st = s['stage_ms']
    print(f"published {s['frames_published']}, received by the node {s['frames_received_by_node']} "
          f"({100 * s['received_fraction']:.1f} %, {s['subscription_reliability']} subscription), "
          f"processed {s['frames_processed']} ({100 * s['processed_fraction']:.1f} %; latest-wins dropped "
          f"{s['frames_dropped_latest_wins']})")
    print(f"persons/frame "
          f"{s['persons_per_frame']['mean']:.2f}, distinct track ids {s['distinct_track_ids']}, "
          f"end-to-end {s['end_to_end_fps']:.1f} FPS, processing {s['processing_fps']:.1f} FPS "
          f"on {s['device']} ({s['pose_backend']}/{s['pose_runtime']})")
    print('stage ms (mean): ' + ', '.join(f'{k} {v["mean"]:.1f}' for k, v in st.items()))
    print(f"wrote {Path(a.out) / 'annotated.mp4'} and {Path(a.out) / 'summary.json'}")
    return 0 if s['frames_processed'] > 0 and s['exit_codes'] == {'pose_tracker': 0, 'video_source': 0} else 1


if __name__ == '__main__':
    sys.exit(main())
