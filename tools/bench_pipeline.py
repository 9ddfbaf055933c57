#!/usr/bin/env python3
"""Pipeline benchmark (`make bench-pipeline`).

End-to-end FPS and p50/p99 latency at 640x480 with 1, 5, 10 and 20 persons, per pose backend
and device; in the same run, the raw core vs the ROS node over DDS, and (for MMPose backends) our
batched estimator vs MMPose's own ``inference_topdown`` on the same model and boxes; the 3D
(depth) stage's ms per frame at 1 and 10 persons on the real five_people RGB-D frame
(``depth_stage_ms``). Writes out/bench/pipeline.json.

Frames: people cut from the shared photos (with our detector's boxes) pasted on a grey 640x480
canvas in a grid, so each frame holds exactly N real persons.

    .venv/bin/python tools/bench_pipeline.py [--backends blazepose mmpose:rtmpose-t ...]
        [--iters 20]
MMPose backends use the configs shipped in the mmpose wheel with random weights saved to a temp
file (speed does not depend on the weight values).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from poseflow_ros.paths import REPO_ROOT, shared_dir  # noqa: E402

BUDGET_S = 10.0  # seconds of timed calls per measurement at most (see time_calls)

MMPOSE_CONFIGS = {
    'rtmpose-t': 'rtmpose-t_8xb256-420e_coco-256x192',
    'rtmpose-m': 'rtmpose-m_8xb256-420e_coco-256x192',
    'hrnet-w32': 'td-hm_hrnet-w32_8xb64-210e_coco-256x192',
}


DEFAULT_CUDA_VARIANTS = ('graphs', 'eager', 'graphs-fp16')


class VideoSet(NamedTuple):
    """One video run's options: a name and what the pipeline and the node are given."""

    name: str
    overlap: object  # True, False, or 'when_behind' (the node's overlap_when_behind)
    detection_interval: int
    num_threads: int
    pose_runtime: str
    onnx_passes: bool = True  # the CPU runtimes load the optimised ONNX (pose.onnx_passes)
    pose_precision: str = 'fp32'  # bf16: OpenVINO in bfloat16 (CPUs with bf16 units)


# 'sequential' is the pipeline as issue #10 found it (one stage after another on every frame,
# BlazePose on onnxruntime FP32 from the export as the exporter wrote it), the reference of the
# ratios and of the agreement columns. 'passes': the same with the optimised ONNX graph
# (bit-identical results). threads1: one CPU thread per model (num_threads 1), so that the two
# overlapped stages do not compete for the same cores. bf16: pose_precision bf16 (OpenVINO, not
# the same landmarks: the agreement columns say how far). 'defaults' (added at run time by
# video_option_sets) is what a user gets: PipelineConfig's and the node's defaults.
VIDEO_OPTION_SETS = (
    VideoSet('sequential', False, 1, 0, 'onnxruntime', onnx_passes=False),
    VideoSet('passes', False, 1, 0, 'onnxruntime'),
    VideoSet('openvino', False, 1, 0, 'openvino'),
    VideoSet('overlap', True, 1, 0, 'onnxruntime'),
    VideoSet('overlap+openvino', True, 1, 0, 'openvino'),
    VideoSet('overlap+threads1', True, 1, 1, 'onnxruntime'),
    VideoSet('interval3', False, 3, 0, 'onnxruntime'),
    VideoSet('overlap+interval3', True, 3, 0, 'onnxruntime'),
    VideoSet('overlap+interval3+openvino', True, 3, 0, 'openvino'),
    VideoSet('bf16', False, 1, 0, 'openvino', pose_precision='bf16'),
    VideoSet('overlap+bf16', True, 1, 0, 'openvino', pose_precision='bf16'),
    VideoSet('overlap+interval3+bf16', True, 3, 0, 'openvino', pose_precision='bf16'),
)


def video_option_sets(names=None):
    """Return VIDEO_OPTION_SETS plus 'defaults', 'sequential' first.

    'defaults' is the shipped PipelineConfig and node defaults (overlap, detection_interval,
    num_threads, pose_runtime, pose_precision). ``names`` selects some (the reference
    'sequential' always runs). Sets that need OpenVINO are dropped where it is missing, the bf16
    ones where the CPU has no bf16 units.
    """
    from poseflow_ros.pipeline import PipelineConfig
    from poseflow_ros.pose.blazepose_torch import _has_openvino, cpu_has_bf16
    from poseflow_ros.ros.node_settings import NodeSettings

    cfg, node = PipelineConfig(), NodeSettings()
    sets = list(VIDEO_OPTION_SETS) + [
        VideoSet(
            'defaults',
            {'on': True, 'off': False}.get(node.overlap_mode, node.overlap_mode),
            cfg.detection_interval,
            cfg.num_threads,
            cfg.pose_runtime,
            pose_precision=cfg.pose_precision,
        )
    ]
    if names:
        sets = [x for x in sets if x.name == 'sequential' or x.name in names]
    if not _has_openvino():
        print('openvino is not installed: its option sets are skipped', flush=True)
        sets = [x for x in sets if x.pose_runtime != 'openvino']
    elif not cpu_has_bf16():
        print('this CPU has no bf16 units: the bf16 option sets are skipped', flush=True)
        sets = [x for x in sets if x.pose_precision != 'bf16']
    return sets


def video_pipeline(vs: VideoSet, device: str):
    """Build the core pipeline of one video option set on ``device``.

    Off the CPU, a CPU-only pose runtime becomes 'auto' (torch on CUDA) and bf16 fp32, so the
    sets compare the other options there.
    """
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline

    cpu_only = vs.pose_runtime in ('onnxruntime', 'openvino')
    on_cpu = device == 'cpu'
    pipe = PosePipeline.from_config(
        PipelineConfig(
            device=device,
            detection_interval=vs.detection_interval,
            num_threads=vs.num_threads,
            pose_runtime=vs.pose_runtime if on_cpu or not cpu_only else 'auto',
            pose_precision=vs.pose_precision if on_cpu else 'fp32',
        )
    )
    if hasattr(pipe.pose, 'set_onnx_passes'):
        pipe.pose.set_onnx_passes(vs.onnx_passes)
    return pipe


def make_bench_detector(device, runtime, graphs):
    """Make a device's person detector, picked as the pipeline picks it (``detector_runtime``).

    onnxruntime on CUDA without its CUDA provider falls back to the CPU here instead of failing.
    """
    from poseflow_ros.detect import make_detector, resolve_runtime

    if resolve_runtime(runtime, device) == 'torch':
        return make_detector('torch', device=device, score_threshold=0.25, cuda_graph=graphs)
    try:
        return make_detector('onnxruntime', device=device, score_threshold=0.25)
    except RuntimeError as e:  # onnxruntime without its CUDA provider: detector on the CPU
        print(f'{e}: detector on the CPU', flush=True)
        return make_detector('onnxruntime', device='cpu', score_threshold=0.25)


def bench_video(make_pipeline, video, max_frames=0, overlap=False, record=None, desc='video'):
    """Core pipeline over every frame of a video, in order (no frame dropped).

    Measures FPS, latency (a frame's detection start to its result) and stage means. ``overlap``:
    detection of frame t+1 in this thread while a worker runs the rest of frame t
    (:mod:`poseflow_ros.overlap`, as the node does); 'when_behind': decided per frame by the
    node's :class:`~poseflow_ros.overlap.OverlapGovernor`, told that every frame was waiting (a
    video read as fast as the pipeline takes it: it falls behind, so it overlaps after one
    window). The pipeline's detection_interval applies
    (PosePipeline.detect_ahead). ``record``: a list that gets, per frame, the matched tracks as
    (id, box, keypoints, scores), for :func:`agreement`.
    """
    from poseflow_ros.overlap import OverlapGovernor, SecondStage
    from poseflow_ros.stats import StageStats
    from poseflow_ros.types import Frame
    from poseflow_ros.video import VideoReader

    pipe = make_pipeline()
    pipe.warmup()  # as the node does at start-up (CUDA graphs captured here)
    st = StageStats()
    latency, persons, done, detected = [], [], [], []

    def finish(item):
        frame, dets, det_ms, t_start = item
        r = pipe.process(frame, detections=dets, detect_ms=det_ms)
        t_end = time.perf_counter()
        latency.append((t_end - t_start) * 1e3)
        done.append(t_end)
        st.add(r.timings_ms)
        persons.append(len(r.tracks))
        detected.append('detect_skipped' not in r.timings_ms)
        if record is not None:
            record.append(
                [
                    (t.track_id, t.box.copy(), t.keypoints.copy(), t.keypoint_scores.copy())
                    for t in r.tracks
                    if t.detection_index >= 0 and t.keypoints is not None
                ]
            )

    second = (
        SecondStage(finish, on_error=lambda e: print(f'frame failed: {e!r}', flush=True))
        if overlap
        else None
    )
    governor = OverlapGovernor() if overlap == 'when_behind' else None
    overlapped = 0
    from tqdm import tqdm

    reader = VideoReader(str(video))
    total = min(max_frames, reader.frame_count) if max_frames else reader.frame_count
    bar = tqdm(total=total or None, desc=desc, unit='frame', file=sys.stderr, mininterval=1.0)
    for i, img in enumerate(reader):
        if max_frames and i >= max_frames:
            break
        bar.update()
        t = time.perf_counter()
        frame = Frame(img, i / reader.fps, 'cam', i)
        dets = pipe.detect_ahead(img)  # None between detections (detection_interval)
        item = (frame, dets, (time.perf_counter() - t) * 1e3, t)
        if second is None or (governor is not None and not governor.picked(True)):
            if second is not None:
                second.wait_idle()  # the frame before it first: results in order
            finish(item)
        else:
            overlapped += 1
            second.hand(item)
    bar.close()
    if second is not None:
        second.wait_idle()
        second.close()
    n = len(done)
    # throughput from the frames after the first 5 (warm), latency percentiles over the same frames
    fps = (n - 6) / (done[-1] - done[5]) if n > 10 else 0.0
    e2e = stats(latency[5:])
    e2e['fps'] = fps
    stage = {k: v['mean'] for k, v in st.summary().items() if k != 'detect_skipped'}
    return {
        'video': Path(video).name,
        'frames': n,
        'persons_per_frame': float(np.mean(persons)),
        'frames_detected': int(np.sum(detected)),
        'frames_overlapped': overlapped,
        # as resolved ('auto' names what ran)
        'pose_runtime': getattr(pipe.pose, 'runtime', None),
        'pose_precision': getattr(pipe.pose, 'precision', None),
        'end_to_end': e2e,
        'stage_ms_mean': stage,
    }


def agreement(ref, run, iou_min=0.5, pck=0.05, min_score=0.5):
    """How far a run's output is from a reference run over the same frames.

    Both come from bench_video's ``record``. Persons matched by box IoU; the fraction of keypoints
    (both scoring >= min_score) within ``pck`` x the reference box height; the fraction of
    reference persons found; and id churn: distinct track ids, and id switches (a reference id
    matched to a different id of the run than before).
    """
    from poseflow_ros.geometry import iou_matrix

    within = total = found = persons = switches = 0
    mapping = {}
    ids = set()
    for a, b in zip(ref, run):
        ids |= {t[0] for t in b}
        persons += len(a)
        if not a or not b:
            continue
        iou = iou_matrix(np.stack([t[1] for t in a]), np.stack([t[1] for t in b]))
        for i, j in enumerate(iou.argmax(1)):
            if iou[i, j] < iou_min:
                continue
            found += 1
            ra, rb = a[i], b[j]
            if ra[0] in mapping and mapping[ra[0]] != rb[0]:
                switches += 1
            mapping[ra[0]] = rb[0]
            h = max(ra[1][3] - ra[1][1], 1.0)
            both = (ra[3] >= min_score) & (rb[3] >= min_score)
            d = np.linalg.norm(ra[2][both] - rb[2][both], axis=1)
            within += int((d <= pck * h).sum())
            total += int(both.sum())
    return {
        'pck': within / max(total, 1),
        'persons_found': found / max(persons, 1),
        'distinct_ids': len(ids),
        'id_switches_vs_reference': switches,
    }


def person_crops(detector, n_min=20):
    """Crops of single, whole people.

    A detected box is kept when the detector, run on the crop alone on a grey canvas, finds
    exactly one person in it (no neighbour cut in half).
    """
    crops = []
    for p in sorted((shared_dir() / 'data' / 'images').glob('*.jpg')):
        img = cv2.imread(str(p))
        d = detector.detect(img)
        for b, s in zip(d.boxes.astype(int), d.scores):
            b = np.maximum(b, 0)
            if s > 0.5 and (b[3] - b[1]) > 80:
                c = img[b[1] : b[3], b[0] : b[2]].copy()
                canvas, _ = make_frame([c], 1)
                if len(detector.detect(canvas)) == 1:
                    crops.append(c)
    if not crops:
        raise RuntimeError('no single-person crops found in the shared photos')
    out = []
    while len(out) < n_min:
        out.extend(crops)
    return out


def make_frame(crops, n, w=640, h=480):
    """Paste n persons in a grid on a grey canvas; return the frame and pasted boxes (xyxy)."""
    frame = np.full((h, w, 3), 110, np.uint8)
    cols = int(np.ceil(np.sqrt(n * w / h)))
    rows = int(np.ceil(n / cols))
    cw, ch = w // cols, h // rows
    boxes = []
    for i in range(n):
        c = crops[i]
        s = min((cw - 4) / c.shape[1], (ch - 4) / c.shape[0])
        r = cv2.resize(c, (max(1, int(c.shape[1] * s)), max(1, int(c.shape[0] * s))))
        x0 = (i % cols) * cw + (cw - r.shape[1]) // 2
        y0 = (i // cols) * ch + (ch - r.shape[0]) // 2
        frame[y0 : y0 + r.shape[0], x0 : x0 + r.shape[1]] = r
        boxes.append([x0, y0, x0 + r.shape[1], y0 + r.shape[0]])
    return frame, np.array(boxes, np.float32)


def stats(ms):
    a = np.asarray(ms)
    return {
        'fps': float(1000.0 / a.mean()),
        'mean_ms': float(a.mean()),
        'p50_ms': float(np.percentile(a, 50)),
        'p99_ms': float(np.percentile(a, 99)),
        'n': int(a.size),
    }


def time_calls(fn, iters, warm=2, max_s=None):
    """Up to ``iters`` timed calls after ``warm`` untimed ones.

    Stops early (at least 3 calls) once ``max_s`` seconds are spent, so slow models on a small
    CPU still finish.
    """
    max_s = BUDGET_S if max_s is None else max_s
    t_start = time.perf_counter()
    for _ in range(warm):
        fn()
        if time.perf_counter() - t_start > max_s:
            break
    ms = []
    t_start = time.perf_counter()
    for _ in range(iters):
        t = time.perf_counter()
        fn()
        ms.append((time.perf_counter() - t) * 1e3)
        if len(ms) >= 3 and time.perf_counter() - t_start > max_s:
            break
    return ms


def random_mmpose_checkpoint(cfg_name, tmp):
    from poseflow_ros.pose import mmpose_compat  # noqa: F401  (import stand-ins first)
    import torch
    from mmpose.apis import init_model
    from poseflow_ros.pose.mmpose_backend import resolve_config

    torch.manual_seed(0)
    model = init_model(resolve_config(cfg_name), None, device='cpu')
    path = Path(tmp) / f'{cfg_name}.pth'
    torch.save({'state_dict': model.state_dict()}, path)
    return str(path)


def bench_node_vs_core(pipeline, frames, iters):
    """Time the same frame through pipeline.process (core) and the node over DDS, interleaved.

    Node time is publish() of the Image until the TrackedPoseArray arrives in another node
    (conversion, QoS, DDS both ways).
    """
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    import rclpy
    from builtin_interfaces.msg import Time
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.node import Node
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from poseflow_ros.msg import TrackedPoseArray
    from poseflow_ros.ros.conversions import bgr_to_image
    from poseflow_ros.ros.pose_tracker_node import PoseTrackerNode
    from poseflow_ros.types import Frame

    if not rclpy.ok():
        rclpy.init()
    node = PoseTrackerNode(
        pipeline=pipeline, parameter_overrides=[Parameter('qos_reliability', value='reliable')]
    )
    if not node.autostart():  # a lifecycle node: configure + activate, as its main() does
        raise RuntimeError(f'pose_tracker did not start: {node.configure_error}')
    io = Node('bench_io')
    pub = io.create_publisher(Image, 'image', 10)
    got = []
    ev = threading.Event()
    io.create_subscription(
        TrackedPoseArray,
        'tracked_poses',
        lambda m: (got.append(time.perf_counter()), ev.set()),
        10,
    )
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    ex.add_node(io)
    th = threading.Thread(target=ex.spin, daemon=True)
    th.start()
    t_end = time.monotonic() + 5
    while (
        pub.get_subscription_count() == 0 or node.pub_poses.get_subscription_count() == 0
    ) and time.monotonic() < t_end:
        time.sleep(0.01)
    msgs = [
        bgr_to_image(frames[0], Header(stamp=Time(sec=i + 1), frame_id='cam'))
        for i in range(iters + 3)
    ]
    core_ms, node_ms = [], []
    for i, m in enumerate(msgs):  # interleaved: core call, then the same frame through the node
        t = time.perf_counter()
        pipeline.process(Frame(frames[0], 0.0, 'cam', 0))
        t_core = (time.perf_counter() - t) * 1e3
        ev.clear()
        t = time.perf_counter()
        pub.publish(m)
        if not ev.wait(30):
            raise RuntimeError('node did not answer')
        if i >= 3:
            core_ms.append(t_core)
            node_ms.append((got[-1] - t) * 1e3)
    ex.shutdown()
    th.join(timeout=10.0)
    node.destroy_node()
    io.destroy_node()
    return stats(core_ms), stats(node_ms)


def bench_depth_stage():
    """Measure ms per frame of the 3D stage (DepthStage.process, CPU numpy) at 1 and 10 persons.

    With depth and monocular: the real five_people RGB-D frame and its tracks (10 = the five
    twice, other ids).
    """
    from poseflow_ros.pipeline import PipelineConfig, PosePipeline
    from tools.eval_3d import load_five_people, run, stage_cost

    img, dep, cam = load_five_people()
    pipe = PosePipeline.from_config(PipelineConfig(device='cpu', tracker={'n_init': 1}))
    cost = stage_cost(run(pipe, img, dep, cam), dep, cam)
    print(
        'depth stage (five_people frame, 640x480, CPU) ms per frame, median of repeats: '
        + ', '.join(
            f'{k.replace("_", " at ")} persons {v["median_ms"]:.3f} (cpu {v["cpu_median_ms"]:.3f})'
            for k, v in cost.items()
        ),
        flush=True,
    )
    return cost


def save(report, out):
    """Written after every measurement, so a run cut short still leaves what it measured."""
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(json.dumps(report, indent=2))


def main(argv=None) -> int:
    global BUDGET_S
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        '--backends',
        nargs='+',
        default=[
            'blazepose',
            'blazepose:onnxruntime',
            'blazepose:openvino',
            'blazepose:openvino-bf16',
            'blazepose:torch',
            'mmpose:rtmpose-t',
            'mmpose:rtmpose-m',
            'mmpose:hrnet-w32',
        ],
        help='blazepose[:torch|onnxruntime|openvino|openvino-bf16] or '
        'mmpose:<rtmpose-t|rtmpose-m|hrnet-w32> (openvino-bf16: pose_precision bf16)',
    )
    ap.add_argument('--persons', nargs='+', type=int, default=[1, 5, 10, 20])
    ap.add_argument(
        '--devices', nargs='+', default=None, help='default: cpu, and cuda when a GPU is visible'
    )
    ap.add_argument(
        '--variants',
        nargs='+',
        default=None,
        help='CUDA variants: eager, graphs (CUDA graphs for detector + pose), graphs-fp16, '
        'eager-fp16; default on CUDA: graphs eager graphs-fp16 (the CPU always runs eager '
        'FP32)',
    )
    ap.add_argument(
        '--detector-runtime',
        default='auto',
        help='auto (torch on CUDA when available, onnxruntime on the CPU) | onnxruntime | torch',
    )
    ap.add_argument('--iters', type=int, default=15)
    ap.add_argument('--budget', type=float, default=BUDGET_S, help='max seconds per measurement')
    ap.add_argument('--threads', type=int, default=0)
    ap.add_argument('--no-node', action='store_true', help='skip the ROS node comparison')
    ap.add_argument('--no-video', action='store_true', help='skip the walk.small.mp4 runs')
    ap.add_argument(
        '--video-frames', type=int, default=0, help='first N frames of the video only (0 = all)'
    )
    ap.add_argument(
        '--video-sets',
        nargs='+',
        default=None,
        help='video option sets to run (default all; sequential, the reference, always runs)',
    )
    ap.add_argument(
        '--video-rounds', type=int, default=1, help='run the video option sets this many times'
    )
    ap.add_argument('--no-depth', action='store_true', help='skip the 3D (depth) stage cost')
    ap.add_argument('--out', default=str(REPO_ROOT / 'out' / 'bench' / 'pipeline.json'))
    a = ap.parse_args(argv)
    BUDGET_S = a.budget
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    from poseflow_ros import models
    from poseflow_ros.detect import make_detector
    from poseflow_ros.pipeline import PosePipeline
    from poseflow_ros.pose import make_pose_estimator
    from poseflow_ros.pose.blazepose_torch import _has_openvino, cpu_has_bf16
    from poseflow_ros.track import Tracker, TrackerConfig
    from poseflow_ros.types import Frame

    devices = a.devices or (['cpu', 'cuda'] if torch.cuda.is_available() else ['cpu'])
    for n in ('rtmdet_nano_person', 'blazepose_full'):
        models.fetch(n)
    crops = person_crops(make_detector('onnxruntime', score_threshold=0.25))
    frames = {n: make_frame(crops, n) for n in a.persons}
    report = {
        'devices': devices,
        'gpu': torch.cuda.get_device_name(0) if 'cuda' in devices else None,
        'cpu_threads': torch.get_num_threads(),
        'cpus': os.cpu_count(),
        'torch': torch.__version__,
        'machine': platform.processor() or platform.machine(),
        'frame': '640x480',
        'frames': 'people cut from the shared photos, pasted in a grid on a grey canvas',
        'mmpose_weights': 'random (speed does not depend on weight values)',
        'results': [],
    }
    tmp = tempfile.mkdtemp()
    ref_ms = {}
    if not a.no_depth:
        report['depth_stage_ms'] = bench_depth_stage()
        save(report, a.out)
    if not a.no_video:
        video = shared_dir() / 'data' / 'videos' / 'walk.small.mp4'
        print(
            f'core on {video.name}, every frame in order; pck / found / ids / switches: '
            'agreement with the sequential run (keypoints within 5 % of the person height, '
            'persons found, distinct ids, id switches)',
            flush=True,
        )
        sets = video_option_sets(a.video_sets)
        for dev in devices:
            for rnd in range(a.video_rounds):  # rounds: the same comparison again, for the noise
                records, ref_fps = {}, None
                for vs in sets:
                    name, overlap, interval, threads, runtime, passes, precision = vs
                    if dev != 'cpu' and runtime == 'openvino' and name != 'defaults':
                        continue  # the same as its onnxruntime twin off the CPU
                    rec = []
                    # num_threads > 0 sets torch's globally
                    torch_threads = torch.get_num_threads()
                    v = bench_video(
                        lambda: video_pipeline(vs, dev),
                        video,
                        a.video_frames,
                        overlap=overlap,
                        record=rec,
                        desc=f'{dev} {name}',
                    )
                    torch.set_num_threads(torch_threads)
                    records.setdefault('sequential', rec)
                    e = v['end_to_end']
                    ref_fps = ref_fps or e['fps']
                    v.update(
                        device=dev,
                        config=name,
                        round=rnd,
                        overlap=overlap,
                        detection_interval=interval,
                        num_threads=threads,
                        # bench_video's pose_runtime / pose_precision: as resolved, else the set's
                        pose_runtime=v['pose_runtime'] or runtime,
                        onnx_passes=passes,
                        pose_precision=v['pose_precision'] or precision,
                        speedup_vs_sequential=e['fps'] / ref_fps,
                        load_average=os.getloadavg(),
                        agreement_with_sequential=agreement(records['sequential'], rec),
                    )
                    report.setdefault('video', []).append(v)
                    ag = v['agreement_with_sequential']
                    print(
                        f'  {dev:4s} r{rnd} {name:27s} {v["pose_runtime"]} {v["pose_precision"]} '
                        f'{e["fps"]:6.1f} FPS '
                        f'({v["speedup_vs_sequential"]:.2f}x)  p50 {e["p50_ms"]:6.1f} ms  p99 '
                        f'{e["p99_ms"]:6.1f} ms  detected {v["frames_detected"]:4d}/'
                        f'{v["frames"]}  '
                        f'pck {ag["pck"]:.3f} found {ag["persons_found"]:.3f} ids '
                        f'{ag["distinct_ids"]} switches {ag["id_switches_vs_reference"]}; load '
                        f'{v["load_average"][0]:.2f}; stage ms '
                        + ', '.join(f'{k} {m:.1f}' for k, m in v['stage_ms_mean'].items()),
                        flush=True,
                    )
                    save(report, a.out)
            dflt = [v for v in report['video'] if v['device'] == dev and v['config'] == 'defaults']
            if dflt:
                ratios = ', '.join(f'{v["speedup_vs_sequential"]:.2f}x' for v in dflt)
                print(
                    f'  {dev}: defaults vs sequential (onnxruntime, no overlap, interval 1), '
                    f'per round: {ratios}',
                    flush=True,
                )
    print(
        f'{"backend":22s} {"dev":4s} {"variant":11s}  n det | end-to-end: FPS   p50 ms  p99 ms '
        '| detect ms | pose stage ms | MMPose inference_topdown ms (ours faster by)'
    )
    for device, variant_name in [
        (d, v)
        for d in devices
        for v in (['eager'] if d == 'cpu' else (a.variants or DEFAULT_CUDA_VARIANTS))
    ]:
        graphs, fp16 = variant_name.startswith('graphs'), variant_name.endswith('fp16')
        det = make_bench_detector(device, a.detector_runtime, graphs)
        report.setdefault('detectors', {})[f'{device}/{variant_name}'] = det.name
        for b in a.backends:
            kind, _, variant = b.partition(':')
            kw = {}
            if kind == 'mmpose':
                try:
                    cfg = MMPOSE_CONFIGS[variant]
                    kw = dict(
                        mmpose_config=cfg, mmpose_checkpoint=random_mmpose_checkpoint(cfg, tmp)
                    )
                except ImportError as e:
                    print(f'skip {b}: mmpose not importable ({e})')
                    continue
            elif variant:
                runtime, _, precision = variant.partition('-')
                if runtime in ('onnxruntime', 'openvino') and device != 'cpu':
                    continue
                if runtime == 'openvino' and not _has_openvino():
                    print(f'skip {b}: openvino is not installed', flush=True)
                    continue
                if precision == 'bf16' and not cpu_has_bf16():
                    print(f'skip {b}: this CPU has no bf16 units', flush=True)
                    continue
                kw = dict(runtime=runtime, precision=precision or 'fp32')
            est = make_pose_estimator(kind, device=device, fp16=fp16, cuda_graph=graphs, **kw)
            for n in a.persons:
                frame, boxes = frames[n]
                # exactly n poses per frame: the n highest-scoring boxes (extra boxes on pasted
                # edges dropped)
                pipe = PosePipeline(det, est, Tracker(TrackerConfig()), max_persons=n)
                detected = len(det.detect(frame))
                e2e = time_calls(lambda: pipe.process(Frame(frame, 0.0, 'cam', 0)), a.iters)
                det_only = time_calls(lambda: det.detect(frame), a.iters)
                pose_only = time_calls(lambda: est.estimate(frame, boxes), a.iters)
                row = {
                    'backend': b,
                    'runtime': getattr(est, 'runtime', 'torch'),
                    'device': device,
                    'variant': variant_name,
                    'fp16': fp16,
                    'cuda_graphs': graphs,
                    'detector': det.name,
                    'persons': n,
                    'detected': detected,
                    'end_to_end': stats(e2e),
                    'detect': stats(det_only),
                    'pose_stage': stats(pose_only),
                }
                if kind == 'mmpose':
                    # MMPose's own loop on the same model and boxes, FP32 (its pipeline feeds
                    # float32), measured once per backend/device/persons and compared with every
                    # variant
                    key = (b, device, n)
                    if key not in ref_ms and not fp16:
                        from mmpose.apis import inference_topdown

                        ref_ms[key] = time_calls(
                            lambda: inference_topdown(est.model, frame, boxes, bbox_format='xyxy'),
                            a.iters,
                        )
                    ref = ref_ms.get(key)
                if kind == 'mmpose' and ref is not None:
                    row['mmpose_inference_topdown'] = stats(ref)
                    row['speedup_vs_inference_topdown'] = float(np.mean(ref) / np.mean(pose_only))
                report['results'].append(row)
                line = (
                    f'{b:22s} {device[:4]:4s} {variant_name:11s} {n:2d} {detected:3d} | '
                    f'{row["end_to_end"]["fps"]:9.1f} {row["end_to_end"]["p50_ms"]:8.2f} '
                    f'{row["end_to_end"]["p99_ms"]:7.2f} | {row["detect"]["mean_ms"]:6.2f} | '
                    f'{row["pose_stage"]["mean_ms"]:8.2f}'
                )
                if 'mmpose_inference_topdown' in row:
                    line += (
                        f' | {row["mmpose_inference_topdown"]["mean_ms"]:8.2f} '
                        f'(x{row["speedup_vs_inference_topdown"]:.2f})'
                    )
                print(line, flush=True)
                save(report, a.out)
            del est
    device = devices[-1]
    if not a.no_node:
        n = 5 if 5 in frames else a.persons[0]
        det = make_bench_detector(device, a.detector_runtime, False)
        est = make_pose_estimator('blazepose', device=device)
        pipe = PosePipeline(det, est, Tracker(TrackerConfig()), max_persons=n)
        core, node = bench_node_vs_core(pipe, [frames[n][0]], a.iters)
        report['node_vs_core'] = {
            'backend': 'blazepose',
            'device': device,
            'persons': n,
            'core': core,
            'ros_node_over_dds': node,
            'ratio': node['mean_ms'] / core['mean_ms'],
        }
        print(
            f'node vs core (blazepose, {device}, {n} persons, 640x480): core '
            f'{core["mean_ms"]:.1f} ms, node over DDS (publish -> TrackedPoseArray received) '
            f'{node["mean_ms"]:.1f} ms, ratio {node["mean_ms"] / core["mean_ms"]:.3f}'
        )
    save(report, a.out)
    print(f'wrote {a.out}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
