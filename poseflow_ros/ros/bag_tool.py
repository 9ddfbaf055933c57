"""Offline path: a recorded bag through the node's pipeline into a ROS 2 bag, summary and video.

    python -m poseflow_ros.bag INPUT --out DIR [--image-topic T] [--depth-topic T|none]
        [--camera-info-topic T|none] [--device cpu] [--max-frames N] [--debug-image]
        [--params config/pose_tracking.yaml] [-p name:=value ...]

INPUT is a ROS 1 ``.bag`` (several split files may be given), a ROS 2 bag directory or a single ROS
2 storage file (``.db3`` sqlite3, ``.mcap``); it is read with the PyPI ``rosbags`` package, no ROS
installation needed for reading. Messages are converted into the rclpy types (ROS 2 CDR as is, ROS
1 field by field) and go through the same conversions and the same
:class:`~poseflow_ros.pipeline.PosePipeline` as in the pose_tracker node; the settings come from
the node's params file.

Topics: the colour topic is found when the bag holds only one sensor_msgs/Image or CompressedImage
topic whose name does not say depth; depth is an image topic whose name contains ``depth``;
camera_info a sensor_msgs/CameraInfo topic (the one beside the colour topic when there are
several). Depth is paired with a colour frame by the nearest header stamp within ``--sync-slop``;
CameraInfo is used as "latest valid" (intrinsics do not change; before the first one arrives, the
first valid one of the bag is used).

Outputs in DIR:
  tracked_poses.mcap  ROS 2 bag (mcap): ``tracked_poses`` (poseflow_ros/msg/TrackedPoseArray) and
                      ``markers`` (visualization_msgs/msg/MarkerArray), optional ``debug_image``;
                      headers of the source images, log times of the source image messages (so it
                      plays in step with the input bag)
  summary.json        frames, persons per frame, distinct ids, 3D position per track, pairing,
                      stage ms
  annotated.mp4       the colour frames with skeletons, ids and distances
"""

from __future__ import annotations

import argparse
import importlib
import json
import shutil
import sys
import time
from collections import Counter, deque
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Dict, List, Optional, Sequence

import numpy as np

from ..cli import add_param_option, parse_param
from ..depth import SOURCE_MONOCULAR
from ..run_summary import write_summary

IMAGE_TYPES = ('sensor_msgs/msg/Image', 'sensor_msgs/msg/CompressedImage')
INFO_TYPE = 'sensor_msgs/msg/CameraInfo'
POSES_TYPE = 'poseflow_ros/msg/TrackedPoseArray'
MARKERS_TYPE = 'visualization_msgs/msg/MarkerArray'
OUT_NAME = 'tracked_poses.mcap'
NONE = 'none'
# a colour frame waits at most this many newer colour frames for its depth partner before it is
# processed without depth (a depth stream that stopped must not hold the whole bag in memory)
MAX_PENDING = 32
# offline the nearest depth wins (the tool can look ahead), so a wide slop costs nothing on a
# steady stream and pairs bags whose depth is stamped apart from colour (the HSR bags: 0.11-0.32
# s); the node's own sync_slop (0.02 s) is for message_filters' ApproximateTimeSynchronizer, which
# takes the first fit
OFFLINE_SLOP = 0.5
POSTURE_NAMES = ('unknown', 'standing', 'sitting', 'arms_raised')  # TrackedPose.POSTURE_*
SOURCE_NAMES = ('none', 'depth', 'monocular')  # TrackedPose.SOURCE_3D_*


class BagError(RuntimeError):
    """The bag cannot be processed as asked; the message says why and what to pass."""


# ------------------------------------------------------------------ topics
@dataclass
class Topics:
    """The topics the tool reads: colour (required), depth and camera_info (None = not used)."""

    image: str
    depth: Optional[str] = None
    camera_info: Optional[str] = None


def _listing(items) -> str:
    return ', '.join(f'{t} ({ty})' for t, ty in items) or 'none'


def _parent(topic: str) -> str:
    return topic.rstrip('/').rsplit('/', 1)[0]


def _common_prefix(a: str, b: str) -> int:
    pa, pb = a.strip('/').split('/'), b.strip('/').split('/')
    n = 0
    for x, y in zip(pa, pb):
        if x != y:
            break
        n += 1
    return n


def choose_topics(
    available: Dict[str, str],
    image: Optional[str] = None,
    depth: Optional[str] = None,
    camera_info: Optional[str] = None,
) -> Topics:
    """Pick the colour, depth and camera_info topics from ``{topic: msgtype}``.

    An explicit name must exist with a fitting type; ``'none'`` turns depth/camera_info off.
    Without a name: the only candidate is taken; several raise :class:`BagError` naming them and
    the option to pass.
    """
    all_items = sorted(available.items())

    def explicit(name, types, what, option):
        if name not in available:
            raise BagError(
                f'{what} topic {name!r} is not in the bag; its topics: {_listing(all_items)}'
            )
        if available[name] not in types:
            raise BagError(
                f'{what} topic {name!r} is {available[name]}, expected {" or ".join(types)} '
                f'(pass another with {option})'
            )
        return name

    imgs = [(t, ty) for t, ty in all_items if ty in IMAGE_TYPES]
    if image:
        img = explicit(image, IMAGE_TYPES, 'image', '--image-topic')
    else:
        colour = [(t, ty) for t, ty in imgs if 'depth' not in t.lower() and t != depth]
        if not colour:
            raise BagError(
                f'no colour image topic (sensor_msgs/Image or CompressedImage whose name does not '
                f'say depth) in the bag; its topics: {_listing(all_items)}; pass --image-topic'
            )
        if len(colour) > 1:
            raise BagError(
                f'{len(colour)} image topics in the bag: {_listing(colour)}; choose one with '
                '--image-topic'
            )
        img = colour[0][0]

    dep = None
    if depth and depth.lower() == NONE:
        dep = None
    elif depth:
        dep = explicit(depth, IMAGE_TYPES, 'depth', '--depth-topic')
    else:
        cands = [(t, ty) for t, ty in imgs if 'depth' in t.lower() and t != img]
        if (
            len(cands) > 1
        ):  # a registered/aligned depth beats the raw one (the stage needs registered)
            reg = [c for c in cands if 'regist' in c[0].lower() or 'align' in c[0].lower()]
            if len(reg) != 1:
                raise BagError(
                    f'{len(cands)} depth topics in the bag: {_listing(cands)}; choose one '
                    'registered to the colour image with --depth-topic (or --depth-topic none)'
                )
            cands = reg
        dep = cands[0][0] if cands else None

    info = None
    if camera_info and camera_info.lower() == NONE:
        info = None
    elif camera_info:
        info = explicit(camera_info, (INFO_TYPE,), 'camera_info', '--camera-info-topic')
    else:
        cands = [(t, ty) for t, ty in all_items if ty == INFO_TYPE]
        if (
            len(cands) > 1
        ):  # the one beside the colour topic (/ns/rgb/image_raw -> /ns/rgb/camera_info)
            beside = [c for c in cands if _parent(c[0]) == _parent(img)]
            if len(beside) != 1:
                best = max(_common_prefix(c[0], img) for c in cands)
                beside = [c for c in cands if _common_prefix(c[0], img) == best]
            if len(beside) != 1:
                raise BagError(
                    f'{len(cands)} camera_info topics in the bag: {_listing(cands)}; choose the '
                    f'one of {img} with --camera-info-topic (or --camera-info-topic none)'
                )
            cands = beside
        info = cands[0][0] if cands else None
    return Topics(img, dep, info)


# ------------------------------------------------------------------ messages
def _ros_class(msgtype: str):
    pkg, _, name = msgtype.split('/')
    return getattr(importlib.import_module(f'{pkg}.msg'), name)


def _copy_into(src, dst):
    """Copy a rosbags message (ROS 1 or 2 field names) into an rclpy message, field by field."""
    for name, typ in dst.get_fields_and_field_types().items():
        val = getattr(src, name, None)
        if val is None:  # ROS 1 spellings: CameraInfo K/D/R/P
            val = getattr(src, name.upper(), None)
        if val is None:
            continue
        cur = getattr(dst, name)
        if hasattr(cur, 'get_fields_and_field_types'):
            _copy_into(val, cur)
        elif isinstance(val, np.ndarray):
            setattr(
                dst,
                name,
                val.tobytes() if val.dtype == np.uint8 and 'uint8' in typ else val.tolist(),
            )
        else:
            setattr(dst, name, val)
    return dst


class BagSource:
    """Reads the chosen topics of a bag in log-time order as rclpy messages."""

    def __init__(self, paths: Sequence[Path]):
        from rosbags.highlevel import AnyReader

        self.paths = [Path(p) for p in paths]
        self.reader = AnyReader(self.paths)

    def __enter__(self):
        self.reader.open()
        return self

    def __exit__(self, *exc):
        self.reader.close()

    @property
    def ros_version(self) -> int:
        return 2 if self.reader.is2 else 1

    def topics(self) -> Dict[str, str]:
        out = {}
        for c in self.reader.connections:
            out.setdefault(c.topic, c.msgtype)
        return out

    def count(self, topic: str) -> int:
        return sum(c.msgcount for c in self.reader.connections if c.topic == topic)

    def duration_s(self) -> float:
        return self.reader.duration / 1e9

    def to_ros(self, conn, raw):
        """Return the message as its rclpy type.

        ROS 2 CDR is deserialised by rclpy; ROS 1 is copied field by field.
        """
        cls = _ros_class(conn.msgtype)
        if self.reader.is2:
            from rclpy.serialization import deserialize_message

            return deserialize_message(bytes(raw), cls)
        return _copy_into(self.reader.deserialize(raw, conn.msgtype), cls())

    def messages(self, topics: Sequence[str]):
        """(topic, log time ns, rclpy message) of ``topics`` in log-time order."""
        conns = [c for c in self.reader.connections if c.topic in topics]
        for conn, t, raw in self.reader.messages(connections=conns):
            yield conn.topic, int(t), self.to_ros(conn, raw)


def stamp_ns(header) -> int:
    return int(header.stamp.sec) * 1_000_000_000 + int(header.stamp.nanosec)


# ------------------------------------------------------------------ depth pairing
@dataclass
class Pending:
    """A colour message waiting for its depth partner."""

    log_ns: int
    stamp: int
    msg: object


class Pairer:
    """Pairs colour with depth by the nearest header stamp within ``slop_ns``.

    Emits colour frames in order.

    A colour frame is emitted once a depth message stamped after ``stamp + slop`` has been seen (no
    better partner can come), when :data:`MAX_PENDING` newer colour frames wait, or at
    :meth:`finish`.
    """

    def __init__(self, slop_ns: int, with_depth: bool):
        self.slop = int(slop_ns)
        self.with_depth = with_depth
        self.colour: deque = deque()
        self.depth: deque = deque()  # (stamp, msg), in arrival order

    def add_colour(self, log_ns: int, msg) -> List[tuple]:
        self.colour.append(Pending(log_ns, stamp_ns(msg.header), msg))
        return self._flush(False)

    def add_depth(self, msg) -> List[tuple]:
        self.depth.append((stamp_ns(msg.header), msg))
        return self._flush(False)

    def finish(self) -> List[tuple]:
        return self._flush(True)

    def _flush(self, final: bool) -> List[tuple]:
        out = []
        while self.colour:
            c = self.colour[0]
            newest = max((s for s, _ in self.depth), default=None)
            ready = (
                final
                or not self.with_depth
                or len(self.colour) > MAX_PENDING
                or (newest is not None and newest > c.stamp + self.slop)
            )
            if not ready:
                break
            self.colour.popleft()
            best = None
            if self.depth:
                s, m = min(self.depth, key=lambda d: abs(d[0] - c.stamp))
                if abs(s - c.stamp) <= self.slop:
                    best = (s, m)
            out.append((c, best))
            # depth older than what the next colour frame could still pair with is no longer needed
            nxt = self.colour[0].stamp if self.colour else c.stamp
            while self.depth and self.depth[0][0] < nxt - self.slop and len(self.depth) > 1:
                self.depth.popleft()
        return out


# ------------------------------------------------------------------ output bag
def _share_dirs(pkg: str) -> List[Path]:
    """share/<pkg> directories: the ament index (AMENT_PREFIX_PATH), then this Python's prefix.

    The prefix is the venv the ROS wheels are installed in; it counts also when
    AMENT_PREFIX_PATH is not set.
    """
    out = []
    try:
        from ament_index_python.packages import get_package_share_directory

        out.append(Path(get_package_share_directory(pkg)))
    except Exception:  # noqa: BLE001 - no ament index or package not in it
        pass
    out.append(Path(sys.prefix) / 'share' / pkg)
    return out


def _msg_dir() -> Path:
    """Directory with poseflow_ros' .msg files.

    The installed share (what rclpy's classes were built from), else the source tree.
    """
    for d in _share_dirs('poseflow_ros'):
        if (d / 'msg').is_dir():
            return d / 'msg'
    from ..paths import REPO_ROOT

    return REPO_ROOT / 'msg'


def output_typestore():
    """Return a rosbags typestore: the ROS 2 Kilted types plus poseflow_ros/msg/* (.msg text)."""
    from rosbags.typesys import Stores, get_types_from_msg, get_typestore

    ts = get_typestore(Stores.ROS2_KILTED)
    types = {}
    for f in sorted(_msg_dir().glob('*.msg')):
        types.update(get_types_from_msg(f.read_text(), f'poseflow_ros/msg/{f.stem}'))
    ts.register(types)
    return ts


def _generated_hash(msgtype: str) -> Optional[str]:
    """RIHS01 hash rosidl generated for ``msgtype`` (share/<pkg>/msg/<Name>.json), else None."""
    pkg, _, name = msgtype.split('/')
    for d in _share_dirs(pkg):
        p = d / 'msg' / f'{name}.json'
        if p.is_file():
            for h in json.loads(p.read_text()).get('type_hashes', []):
                if h.get('type_name') == msgtype:
                    return h['hash_string']
    return None


def _share_msg(msgtype: str) -> Optional[Path]:
    """Return the installed <pkg>/msg/<Name>.msg of a message type, None if there is none."""
    pkg, _, name = msgtype.split('/')
    dirs = [_msg_dir()] if pkg == 'poseflow_ros' else [d / 'msg' for d in _share_dirs(pkg)]
    for d in dirs:
        if (d / f'{name}.msg').is_file():
            return d / f'{name}.msg'
    return None


def _dependencies(ts, msgtype: str, out: List[str]) -> List[str]:
    """Message types ``msgtype`` uses, depth first, each once (the order rosbag2 writes)."""
    from rosbags.interfaces import Nodetype

    for _, (kind, rest) in ts.fielddefs[msgtype][1]:
        sub = (
            rest
            if kind == Nodetype.NAME
            else rest[0][1]
            if (kind in (Nodetype.ARRAY, Nodetype.SEQUENCE) and rest[0][0] == Nodetype.NAME)
            else None
        )
        if sub and sub not in out:
            out.append(sub)
            _dependencies(ts, sub, out)
    return out


def message_definition(ts, msgtype: str) -> str:
    """Return the definition text rosbag2 stores for ``msgtype``.

    Its .msg file, then ``MSG: pkg/Name`` blocks of every type it uses, from the installed .msg
    files verbatim. rosbags' own generate_msgdef drops the quotes of string constants
    (Keypoint.NAMES) and then cannot parse its output back; it is only the fallback for a type
    without an installed .msg file.
    """
    parts = []
    for t in [msgtype] + _dependencies(ts, msgtype, []):
        p = _share_msg(t)
        if p is None:
            return ts.generate_msgdef(msgtype, ros_version=2)[0]
        text = p.read_text().rstrip('\n') + '\n'
        pkg, _, name = t.split('/')
        parts.append(text if t == msgtype else f'MSG: {pkg}/{name}\n{text}')
    return ('=' * 80 + '\n').join(parts)


class BagWriter:
    """Writes CDR bytes (rclpy.serialization) into a ROS 2 mcap bag.

    Each type's definition and RIHS01 hash are registered, so rosbags and ``ros2 bag`` can read it
    back without our package installed.
    """

    def __init__(self, path: Path, topics: Dict[str, str]):
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        # rosbags writes a bag directory <dir>/<name>/<name>.mcap: write it in a hidden work
        # directory, so the file (whose embedded rosbag2 metadata names it) already has its final
        # name, then move it
        self.work = self.path.parent / f'.{self.path.stem}.writing'
        if self.work.exists():
            shutil.rmtree(self.work)
        self.work.mkdir(parents=True)
        self.tmp = self.work / self.path.stem
        self.path.unlink(missing_ok=True)
        self.writer = Writer(self.tmp, version=9, storage_plugin=StoragePlugin.MCAP)
        self.writer.open()
        ts = output_typestore()
        self.hashes = {}
        self.conns = {}
        for topic, msgtype in topics.items():
            msgdef = message_definition(ts, msgtype)
            rihs = _generated_hash(msgtype) or ts.hash_rihs01(msgtype)
            self.hashes[msgtype] = rihs
            self.conns[topic] = self.writer.add_connection(
                topic, msgtype, msgdef=msgdef, rihs01=rihs
            )
        self.counts = Counter()

    def write(self, topic: str, log_ns: int, msg) -> None:
        from rclpy.serialization import serialize_message

        self.writer.write(self.conns[topic], int(log_ns), serialize_message(msg))
        self.counts[topic] += 1

    def close(self) -> None:
        """Finish the bag.

        The tool's output is the single mcap file (it holds schemas and channels).
        """
        self.writer.close()
        (self.tmp / f'{self.tmp.name}.mcap').replace(self.path)
        shutil.rmtree(self.work)


# ------------------------------------------------------------------ settings
def load_settings(params_file: Optional[Path], overrides: Sequence[str], device: Optional[str]):
    """(PipelineConfig, NodeSettings) from the node's params file, overrides and ``--device``.

    The params file's ``pose_tracker: ros__parameters:`` first, then ``name:=value`` overrides
    (``tracker.n_init:=3`` for nested ones), then ``--device``.
    """
    import yaml

    from ..pipeline import PipelineConfig
    from .node_settings import NodeSettings

    params: dict = {}
    if params_file:
        doc = yaml.safe_load(Path(params_file).read_text()) or {}
        node = next(
            (v for v in doc.values() if isinstance(v, dict) and 'ros__parameters' in v), None
        )
        if node is None:
            raise BagError(f'{params_file}: no "<node>: ros__parameters:" section')
        params = dict(node['ros__parameters'])
    for kv in overrides:
        try:
            name, value = parse_param(kv)
        except ValueError as e:
            raise BagError(str(e)) from None
        head, dot, rest = name.partition('.')
        if dot:
            params.setdefault(head, {})[rest] = value
        else:
            params[name] = value
    if device:
        params['device'] = device
    # old names of renamed settings too: from_dict maps them (with a warning), as the node does
    pipe_fields = {f.name for f in fields(PipelineConfig)} | set(PipelineConfig.RENAMED)
    node_fields = {f.name for f in fields(NodeSettings)}
    unknown = sorted(set(params) - pipe_fields - node_fields)
    if unknown:
        raise BagError(f'unknown parameters: {", ".join(unknown)}')
    cfg = PipelineConfig.from_dict({k: v for k, v in params.items() if k in pipe_fields})
    node = NodeSettings(**{k: v for k, v in params.items() if k in node_fields})
    return cfg, node


# ------------------------------------------------------------------ the node's conversions
def build_markers(builder, result, header, width: int, height: int):
    """Return the node's markers of ``result``.

    3D skeletons where it has 3D, else on a plane through K.
    """
    return builder.build(
        result.tracks, header, width, height, poses_3d=result.tracks_3d, camera=result.frame.camera
    )


# ------------------------------------------------------------------ summary helpers
class TrackLog:
    """Per-track accumulation for the summary.

    Frames seen, postures, 3D positions with their source.
    """

    def __init__(self):
        self.frames = 0
        self.first_stamp = None
        self.last_stamp = None
        self.postures = Counter()
        self.positions: List[tuple] = []  # (stamp s, x, y, z, source)
        self.box_heights: List[float] = []

    def add(self, stamp: float, posture: int, box, pos=None, source: int = 0):
        self.frames += 1
        self.first_stamp = stamp if self.first_stamp is None else self.first_stamp
        self.last_stamp = stamp
        self.postures[int(posture)] += 1
        self.box_heights.append(float(box[3] - box[1]))
        if pos is not None and np.all(np.isfinite(pos)) and source:
            self.positions.append(
                (stamp, float(pos[0]), float(pos[1]), float(pos[2]), int(source))
            )

    def to_dict(self) -> dict:
        p = max(self.postures.items(), key=lambda kv: kv[1])[0] if self.postures else 0
        d = {
            'frames': self.frames,
            'first_stamp': self.first_stamp,
            'last_stamp': self.last_stamp,
            'posture': POSTURE_NAMES[p] if p < len(POSTURE_NAMES) else str(p),
            'median_box_height_px': round(float(np.median(self.box_heights)), 1),
        }
        if self.positions:
            xyz = np.array([q[1:4] for q in self.positions])
            src = Counter(
                SOURCE_NAMES[q[4]] if q[4] < len(SOURCE_NAMES) else str(q[4])
                for q in self.positions
            )
            d['position_3d'] = {
                'frames': len(self.positions),
                'source': dict(src),
                'median': [round(float(v), 4) for v in np.median(xyz, axis=0)],
                'first': [round(v, 4) for v in self.positions[0][1:4]],
                'last': [round(v, 4) for v in self.positions[-1][1:4]],
                'median_distance_m': round(float(np.median(np.linalg.norm(xyz, axis=1))), 4),
            }
        return d


def _stats(values: List[float]) -> dict:
    a = np.asarray(values, np.float64)
    if a.size == 0:
        return {}
    return {
        'mean': round(float(a.mean()), 3),
        'p50': round(float(np.median(a)), 3),
        'p95': round(float(np.percentile(a, 95)), 3),
        'max': round(float(a.max()), 3),
        'n': int(a.size),
    }


def annotate(image, result, kp_threshold: float):
    """Draw the debug image plus each track's distance from the camera (when it has 3D)."""
    import cv2

    from ..render import draw_tracks

    out = draw_tracks(image, result.tracks, kp_threshold)
    t3 = result.tracks_3d
    if t3 is not None:
        for i, t in enumerate(result.tracks):
            p = t3.positions[i]
            if np.all(np.isfinite(p)) and t3.source[i]:
                x1, y2 = int(t.box[0]), int(t.box[3])
                label = f'{float(np.linalg.norm(p)):.2f} m' + (
                    ' mono' if t3.source[i] == SOURCE_MONOCULAR else ''
                )
                org = (x1 + 2, min(out.shape[0] - 4, y2 - 6))
                # black text on a white outline: readable on any background
                font = cv2.FONT_HERSHEY_SIMPLEX
                for colour, thickness in (((255, 255, 255), 3), ((0, 0, 0), 1)):
                    cv2.putText(out, label, org, font, 0.6, colour, thickness, cv2.LINE_AA)
    return out


def with_status(image, text: str):
    """``image`` under a black band with ``text`` (the video's frame line, hiding no id label)."""
    import cv2

    band = np.zeros((22, image.shape[1], 3), np.uint8)
    cv2.putText(
        band, text, (6, 16), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1, cv2.LINE_AA
    )
    return np.vstack([band, image])


# ------------------------------------------------------------------ the run
@dataclass
class Options:
    """What :func:`run` does (the command line, as a dataclass for tests and scripts)."""

    inputs: Sequence[Path]
    out: Path
    image_topic: Optional[str] = None
    depth_topic: Optional[str] = None
    camera_info_topic: Optional[str] = None
    device: Optional[str] = None
    max_frames: int = 0
    debug_image: bool = False
    video: bool = True
    params: Optional[Path] = None
    overrides: Sequence[str] = ()
    sync_slop: float = OFFLINE_SLOP  # not the node's sync_slop (that is for its live synchroniser)
    depth_scale: Optional[float] = None  # None: depth.depth_scale of the params (0 = by encoding)
    progress: Optional[bool] = None  # None: a bar on a terminal when the bag has more than 1 frame


def run(opt: Options) -> dict:
    """Process the bag, write the outputs into ``opt.out``.

    Returns the summary (also in summary.json).
    """
    from std_msgs.msg import Header
    from tqdm import tqdm

    from ..decode import ImageError
    from ..pipeline import PosePipeline
    from ..track import TrackerConfig
    from ..types import Frame
    from ..video import VideoWriter
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

    t_start = time.perf_counter()
    inputs = [Path(p) for p in opt.inputs]
    for p in inputs:
        if not p.exists():
            raise BagError(f'input bag not found: {p}')
    cfg, node = load_settings(opt.params, opt.overrides, opt.device)
    out_dir = Path(opt.out)
    out_dir.mkdir(parents=True, exist_ok=True)

    with BagSource(inputs) as src:
        avail = src.topics()
        topics = choose_topics(avail, opt.image_topic, opt.depth_topic, opt.camera_info_topic)
        n_images = src.count(topics.image)
        total = min(n_images, opt.max_frames) if opt.max_frames > 0 else n_images
        dur = src.duration_s()
        fps = n_images / dur if n_images > 1 and dur > 0 else 1.0
        fps = float(min(max(fps, 1.0), 60.0))

        # intrinsics do not change during a recording: the first valid CameraInfo serves the frames
        # that come before it (the HSR bags stamp and log it 1.1 s before the image, other bags
        # after)
        first_camera = None
        if topics.camera_info:
            for _, _, m in src.messages([topics.camera_info]):
                first_camera = camera_info_to_model(m)
                if first_camera is not None:
                    break

        # a track is reported once confirmed (tracker.n_init frames): a bag with fewer colour
        # frames would report nobody, so such a short bag confirms tracks at birth (said in the
        # summary)
        notes = []
        n_init = TrackerConfig.from_dict(dict(cfg.tracker)).n_init
        if 0 < total < n_init:
            cfg.tracker = {**cfg.tracker, 'n_init': 1}
            notes.append(
                f'tracker.n_init lowered from {n_init} to 1: the bag has {total} colour frame(s)'
            )
            print(f'note: {notes[-1]}', file=sys.stderr)
        t_load = time.perf_counter()
        pipe = PosePipeline.from_config(cfg)
        pipe.warmup()  # as the node does at configure
        load_s = time.perf_counter() - t_load
        builder = MarkerBuilder(
            node.marker_depth,
            node.marker_focal_px,
            node.keypoint_score_threshold,
            node.marker_lifetime,
        )
        out_topics = {'tracked_poses': POSES_TYPE, 'markers': MARKERS_TYPE}
        if opt.debug_image:
            out_topics['debug_image'] = 'sensor_msgs/msg/Image'
        writer = BagWriter(out_dir / OUT_NAME, out_topics)
        video = VideoWriter(out_dir / 'annotated.mp4', fps) if opt.video else None

        slop = float(opt.sync_slop)
        depth_scale = (
            opt.depth_scale
            if opt.depth_scale is not None
            else float(cfg.depth.get('depth_scale', 0.0))
        )
        pairer = Pairer(int(slop * 1e9), with_depth=bool(topics.depth))
        camera = None
        tracks: Dict[int, TrackLog] = {}
        persons: List[int] = []
        stage_ms: Dict[str, List[float]] = {}
        problems = Counter()
        pair_dt_ms: List[float] = []
        frames_with = Counter()
        headers: Dict[str, dict] = {}  # first and last source header
        done = 0
        t_loop = time.perf_counter()
        t_pipe = 0.0
        show = opt.progress if opt.progress is not None else (total > 1 and sys.stderr.isatty())
        bar = tqdm(
            total=total, unit='frame', disable=not show, file=sys.stderr, dynamic_ncols=True
        )

        def process(item):
            nonlocal done, camera, t_pipe
            pend, dep = item
            msg = pend.msg
            try:
                image = image_to_bgr(msg)
            except ImageError as e:
                problems[f'colour: {e}'] += 1
                return
            frame = Frame(image, pend.stamp / 1e9, msg.header.frame_id, done)
            depth = None
            if dep is not None:
                try:
                    depth = depth_image_to_metres(dep[1], depth_scale)
                    pair_dt_ms.append((dep[0] - pend.stamp) / 1e6)
                except (ImageError, ValueError) as e:
                    problems[f'depth: {e}'] += 1
            elif pairer.with_depth:
                problems['no depth within sync slop'] += 1
            cam = camera or first_camera
            if depth is not None:
                frame.depth = depth
                frames_with['depth'] += 1
            if cam is not None:
                frame.camera = cam
                frames_with['camera'] += 1
            t0 = time.perf_counter()
            result = pipe.process(frame)
            t_pipe += time.perf_counter() - t0
            for k, v in result.timings_ms.items():
                stage_ms.setdefault(k, []).append(float(v))
            stage_ms.setdefault('total', []).append(float(sum(result.timings_ms.values())))
            header = copy_header(msg.header)
            writer.write('tracked_poses', pend.log_ns, result_to_msg(result, header))
            writer.write(
                'markers',
                pend.log_ns,
                build_markers(builder, result, header, image.shape[1], image.shape[0]),
            )
            persons.append(len(result.tracks))
            t3 = result.tracks_3d
            if t3 is not None and t3.problem:
                problems[f'3D: {t3.problem}'] += 1
            for i, t in enumerate(result.tracks):
                pos = src3 = None
                if t3 is not None:
                    pos, src3 = t3.positions[i], int(t3.source[i])
                post = int(result.postures[i]) if result.postures is not None else 0
                tracks.setdefault(int(t.track_id), TrackLog()).add(
                    frame.stamp, post, t.box, pos, src3 or 0
                )
            headers['last'] = {
                'sec': int(msg.header.stamp.sec),
                'nanosec': int(msg.header.stamp.nanosec),
                'frame_id': msg.header.frame_id,
            }
            headers.setdefault('first', headers['last'])
            if video is not None or opt.debug_image:
                dt = f', depth {pair_dt_ms[-1]:+.0f} ms' if depth is not None else ''
                drawn = annotate(image, result, node.keypoint_score_threshold)
                if video is not None:
                    video.write(
                        with_status(
                            drawn, f'#{done} t={frame.stamp:.3f} persons {len(result.tracks)}{dt}'
                        )
                    )
                if opt.debug_image:
                    dbg_header = Header(stamp=msg.header.stamp, frame_id=msg.header.frame_id)
                    writer.write('debug_image', pend.log_ns, bgr_to_image(drawn, dbg_header))
            done += 1
            bar.update(1)

        wanted = [t for t in (topics.image, topics.depth, topics.camera_info) if t]
        stopped = interrupted = False
        try:
            for topic, log_ns, msg in src.messages(wanted):
                if topic == topics.image:
                    ready = pairer.add_colour(log_ns, msg)
                elif topic == topics.depth:
                    ready = pairer.add_depth(msg)
                else:
                    model = camera_info_to_model(msg)
                    if model is not None:
                        camera = model
                    else:
                        problems[f'camera_info unusable: {camera_info_problem(msg)}'] += 1
                    ready = []
                for item in ready:
                    process(item)
                    if opt.max_frames and done >= opt.max_frames:
                        stopped = True
                        break
                if stopped:
                    break
            if not stopped:
                for item in pairer.finish():
                    if opt.max_frames and done >= opt.max_frames:
                        break
                    process(item)
        except KeyboardInterrupt:  # Ctrl-C: close the bag and summarise the frames so far
            interrupted = True
        finally:
            bar.close()
            writer.close()
            if video is not None:
                video.close()
        loop_s = time.perf_counter() - t_loop

    ids = sorted(tracks)
    ppf = np.asarray(persons, np.int64)
    summary = {
        'inputs': [str(p) for p in inputs],
        'ros_version': src.ros_version,
        'topics': {
            'image': topics.image,
            'depth': topics.depth,
            'camera_info': topics.camera_info,
        },
        'bag_topics': avail,
        'image_messages_in_bag': n_images,
        'frames': done,
        'interrupted': interrupted,
        'frames_with_depth': frames_with['depth'],
        'frames_with_camera_info': frames_with['camera'],
        'depth_pairing': {'sync_slop_s': slop, 'depth_minus_colour_ms': _stats(pair_dt_ms)},
        'problems': dict(problems),
        'notes': notes,
        'persons_per_frame': {
            'mean': round(float(ppf.mean()), 3) if ppf.size else 0.0,
            'max': int(ppf.max()) if ppf.size else 0,
            'per_frame': persons if len(persons) <= 2000 else None,
            'histogram': {str(k): int(v) for k, v in sorted(Counter(persons).items())},
        },
        'distinct_track_ids': len(ids),
        'tracks': {str(i): tracks[i].to_dict() for i in ids},
        'stage_ms': {k: _stats(v) for k, v in stage_ms.items()},
        'device': cfg.device,
        'pose_backend': cfg.pose_backend,
        'model_load_seconds': round(load_s, 3),
        'processing_seconds': round(loop_s, 3),
        'frames_per_second': round(done / loop_s, 3) if loop_s > 0 and done else 0.0,
        'pipeline_frames_per_second': round(done / t_pipe, 3) if t_pipe > 0 else 0.0,
        'wall_seconds': round(time.perf_counter() - t_start, 3),
        'outputs': {
            'bag': str(out_dir / OUT_NAME),
            'messages': dict(writer.counts),
            'type_hashes': writer.hashes,
            'video': str(out_dir / 'annotated.mp4') if video is not None else None,
            'video_frames': video.frames if video is not None else 0,
        },
        'source_headers': headers,
    }
    return write_summary(out_dir, summary)


def parse_args(argv=None) -> Options:
    ap = argparse.ArgumentParser(
        prog='poseflow_bag',
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    ap.add_argument(
        'inputs',
        nargs='+',
        metavar='INPUT',
        help='ROS 1 .bag file(s), a ROS 2 bag directory, or a .db3/.mcap file',
    )
    ap.add_argument(
        '--out', required=True, help='output directory (created; its outputs are replaced)'
    )
    ap.add_argument('--image-topic', help='colour topic (sensor_msgs/Image or CompressedImage)')
    ap.add_argument('--depth-topic', help="registered depth topic (16UC1 mm, 32FC1 m), or 'none'")
    ap.add_argument('--camera-info-topic', help="CameraInfo of the colour camera, or 'none'")
    ap.add_argument(
        '--device', help="cpu, cuda, cuda:N or auto (default: the params file's, else auto)"
    )
    ap.add_argument(
        '--max-frames', type=int, default=0, help='stop after N colour frames (0 = all)'
    )
    ap.add_argument(
        '--debug-image', action='store_true', help='also write the annotated debug_image topic'
    )
    ap.add_argument('--no-video', action='store_true', help='do not write annotated.mp4')
    ap.add_argument(
        '--params', type=Path, help="the node's params file (e.g. config/pose_tracking.yaml)"
    )
    add_param_option(ap, 'a pose_tracker parameter, e.g. -p tracker.n_init:=1 -p embedder:=color')
    ap.add_argument(
        '--sync-slop',
        type=float,
        default=OFFLINE_SLOP,
        help='s: largest colour-depth stamp difference that still pairs, the nearest wins '
        "(default %(default)s; the node's sync_slop parameter is not used here)",
    )
    ap.add_argument(
        '--depth-scale',
        type=float,
        help='metres per depth unit (default: depth.depth_scale of the params; 0 = 16UC1/mono16 '
        'millimetres, 32FC1 metres)',
    )
    ap.add_argument(
        '--progress', dest='progress', action='store_true', default=None, help='force the bar'
    )
    ap.add_argument('--no-progress', dest='progress', action='store_false', help='no progress bar')
    a = ap.parse_args(argv)
    return Options(
        inputs=[Path(p) for p in a.inputs],
        out=Path(a.out),
        image_topic=a.image_topic,
        depth_topic=a.depth_topic,
        camera_info_topic=a.camera_info_topic,
        device=a.device,
        max_frames=a.max_frames,
        debug_image=a.debug_image,
        video=not a.no_video,
        params=a.params,
        overrides=a.param,
        sync_slop=a.sync_slop,
        depth_scale=a.depth_scale,
        progress=a.progress,
    )


def main(argv=None) -> int:
    """Command line entry (``python -m poseflow_ros.bag``, ``poseflow_bag``)."""
    opt = parse_args(argv)
    try:
        s = run(opt)
    except BagError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print('interrupted', file=sys.stderr)
        return 130
    if s['interrupted']:
        print('interrupted: the outputs hold the frames so far', file=sys.stderr)
    print(
        f"{s['frames']} frames ({s['frames_with_depth']} with depth, "
        f"{s['frames_with_camera_info']} with camera_info) from {s['topics']['image']}: "
        f"{s['frames_per_second']:.2f} frames/s on {s['device']} (model load "
        f"{s['model_load_seconds']:.1f} s); persons/frame {s['persons_per_frame']['mean']:.2f}, "
        f"distinct ids {s['distinct_track_ids']}"
    )
    for tid, t in s['tracks'].items():
        p = t.get('position_3d')
        where = (
            f"at {p['median_distance_m']:.2f} m (median xyz {p['median']}, {p['source']})"
            if p
            else 'no 3D position'
        )
        print(f"  track {tid}: {t['frames']} frames, {t['posture']}, {where}")
    if s['problems']:
        print(
            'problems: ' + '; '.join(f'{k} x{v}' for k, v in s['problems'].items()),
            file=sys.stderr,
        )
    print(
        f"wrote {s['outputs']['bag']}, {Path(opt.out) / 'summary.json'}"
        + (f", {s['outputs']['video']}" if s['outputs']['video'] else '')
    )
    return 0 if s['frames'] > 0 else 1
