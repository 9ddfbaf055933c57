"""The bundled demo: a real video through the ROS nodes over real DDS, with a summary.

    python -m poseflow_ros.demo [--video PATH] [--out out/demo] [--params config/pose_tracking.yaml]

It starts ``video_source`` as a separate process publishing the video at its frame rate, runs the
``pose_tracker`` node and a recorder node in this process (messages travel over DDS between all
three), writes the annotated video from ``debug_image`` and ``summary.json`` with frames processed,
persons per frame, distinct track ids, end-to-end FPS, latency and per-stage milliseconds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import random
import subprocess
import sys
import threading
import time
from pathlib import Path

from .paths import REPO_ROOT, shared_dir


def _setup_dds_env() -> None:
    # Keep the demo on this machine and away from other ROS graphs unless the user chose otherwise.
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    os.environ.setdefault('ROS_DOMAIN_ID', str(random.Random(os.getpid()).randint(100, 200)))


def _overrides_from_yaml(path: Path, node_name: str) -> dict:
    import yaml
    data = yaml.safe_load(path.read_text()) or {}
    return (data.get(node_name) or data.get('/**') or {}).get('ros__parameters', {})


def _flatten(d: dict, prefix: str = '') -> dict:
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_flatten(v, f'{prefix}{k}.'))
        else:
            out[f'{prefix}{k}'] = v
    return out


def run_demo(video: Path, out_dir: Path, params_file: Path, extra: dict, max_seconds: float) -> dict:
    _setup_dds_env()
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from .decode import decode_raw
    from .ros.pose_tracker_node import PoseTrackerNode
    from .video import VideoReader, VideoWriter

    from poseflow_ros.msg import TrackedPoseArray

    fps = VideoReader(video).fps
    out_dir.mkdir(parents=True, exist_ok=True)
    rclpy.init()
    overrides = _flatten(_overrides_from_yaml(params_file, 'pose_tracker'))
    overrides.update({'publish_debug_image': True, **extra})
    t_init = time.perf_counter()
    node = PoseTrackerNode(parameter_overrides=[Parameter(k, value=v) for k, v in overrides.items()])
    init_s = time.perf_counter() - t_init
    node.pipeline.warmup()

    rec = Node('demo_recorder')
    writer = VideoWriter(out_dir / 'annotated.mp4', fps)
    got = {'poses': 0, 'images': 0, 'header_mismatch': 0, 'first': None, 'last': None}
    pending = {}
    lock = threading.Lock()

    def on_poses(m):
        with lock:
            got['poses'] += 1
            now = time.perf_counter()
            got['first'] = got['first'] or now
            got['last'] = now

    def on_debug(m):
        img = decode_raw(m.data, m.height, m.width, m.encoding, m.step)
        with lock:
            got['images'] += 1
        writer.write(img)

    rec.create_subscription(TrackedPoseArray, 'tracked_poses', on_poses, 50)
    rec.create_subscription(Image, 'debug_image', on_debug, 50)
    ex = MultiThreadedExecutor(num_threads=3)
    ex.add_node(node)
    ex.add_node(rec)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()

    cmd = [sys.executable, '-m', 'poseflow_ros.ros.video_source_node', '--ros-args',
           '--params-file', str(REPO_ROOT / 'config' / 'video_source.yaml'),
           '-p', f'video_path:={video}', '-p', 'wait_for_subscribers:=20.0', '-r', '__node:=video_source']
    t0 = time.perf_counter()
    src = subprocess.Popen(cmd, env=os.environ.copy(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    try:
        src_out, _ = src.communicate(timeout=max_seconds)
    except subprocess.TimeoutExpired:
        src.terminate()
        src_out, _ = src.communicate()
    # let the last frame drain through the pipeline
    deadline = time.perf_counter() + 5.0
    while time.perf_counter() < deadline:
        with node._cv:
            idle = node._latest is None
        if idle:
            time.sleep(0.5)
            break
        time.sleep(0.05)
    wall = time.perf_counter() - t0
    ex.shutdown()
    writer.close()

    st = node.stats
    stages = st.summary()
    ppf = node.persons_per_frame
    processed = st.counters['processed']
    active = (got['last'] - got['first']) if got['first'] and got['last'] else wall
    import numpy as np
    summary = {
        'video': str(video),
        'video_fps': fps,
        'device': node.pipeline.pose.device,
        'pose_backend': node.config.pose_backend,
        'detector': node.pipeline.detector.name,
        'embedder': node.config.embedder,
        'frames_published': _published(src_out),
        'frames_received': st.counters['received'],
        'frames_processed': processed,
        'frames_dropped_latest_wins': st.counters['dropped'],
        'bad_input_frames': st.counters['bad_input'],
        'tracked_pose_msgs_received_by_subscriber': got['poses'],
        'debug_images_written': writer.frames,
        'persons_per_frame': {
            'mean': float(np.mean(ppf)) if ppf else 0.0, 'max': int(max(ppf)) if ppf else 0,
            'frames_with_persons': int(sum(1 for n in ppf if n > 0)),
            'histogram': {str(k): int(v) for k, v in zip(*np.unique(ppf, return_counts=True))} if ppf else {},
        },
        'distinct_track_ids': len(node.track_ids),
        'track_ids': sorted(int(t) for t in node.track_ids),
        'end_to_end_fps': processed / active if active > 0 else 0.0,
        'processing_fps': 1000.0 / stages['total']['mean'] if 'total' in stages else 0.0,
        'latency_ms': stages.get('latency', {}),
        'stage_ms': {k: {kk: round(vv, 3) for kk, vv in v.items()} for k, v in stages.items()
                     if k not in ('latency',)},
        'wall_seconds': wall,
        'node_init_seconds': init_s,
        'machine': {'cpus': os.cpu_count(), 'python': platform.python_version(),
                    'processor': platform.processor() or platform.machine()},
    }
    node.destroy_node()
    rec.destroy_node()
    rclpy.try_shutdown()
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
    ap.add_argument('--device', default=None, help='override the device parameter (auto|cpu|cuda)')
    ap.add_argument('--embedder', default=None, help='override the embedder parameter')
    ap.add_argument('--max-seconds', type=float, default=600.0)
    a = ap.parse_args(argv)
    video = Path(a.video)
    if not video.is_file():
        print(f'video not found: {video} (pass --video or set POSEFLOW_SHARED)', file=sys.stderr)
        return 2
    extra = {}
    if a.device:
        extra['device'] = a.device
    if a.embedder:
        extra['embedder'] = a.embedder
    s = run_demo(video, Path(a.out), Path(a.params), extra, a.max_seconds)
    st = s['stage_ms']
    print(f"processed {s['frames_processed']}/{s['frames_published']} frames "
          f"(dropped {s['frames_dropped_latest_wins']}), persons/frame {s['persons_per_frame']['mean']:.2f}, "
          f"distinct track ids {s['distinct_track_ids']}, end-to-end {s['end_to_end_fps']:.1f} FPS, "
          f"processing {s['processing_fps']:.1f} FPS on {s['device']}")
    print('stage ms (mean): ' + ', '.join(f'{k} {v["mean"]:.1f}' for k, v in st.items()))
    print(f"wrote {Path(a.out) / 'annotated.mp4'} and {Path(a.out) / 'summary.json'}")
    return 0 if s['frames_processed'] > 0 else 1


if __name__ == '__main__':
    sys.exit(main())
