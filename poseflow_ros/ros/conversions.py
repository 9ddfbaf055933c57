"""Message <-> core conversions (the only place that knows both worlds).

:func:`result_to_msg` is the one conversion of a pipeline result into ``TrackedPoseArray``: the
node and the offline bag tool both use it, so a live robot and a recorded bag give the same
messages.
"""

from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
from geometry_msgs.msg import Point, Vector3
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ..camera import CameraModel
from ..decode import (
    ImageError,
    check_size,
    decode_compressed,
    decode_compressed_depth,
    decode_raw,
    encode_bgr,
)
from ..depth import depth_to_metres
from ..types import FrameResult, TrackOutput

from poseflow_ros.msg import Keypoint, TrackedPose, TrackedPoseArray

NAN = float('nan')
# raw depth encodings: numpy dtype of one sample (sensor_msgs/image_encodings names, lower case)
DEPTH_ENCODINGS = {'16uc1': np.uint16, 'mono16': np.uint16, '32fc1': np.float32}


def image_to_bgr(msg) -> np.ndarray:
    """sensor_msgs/Image or CompressedImage -> BGR uint8 (raises decode.ImageError)."""
    if hasattr(msg, 'encoding'):
        return decode_raw(msg.data, msg.height, msg.width, msg.encoding, msg.step)
    return decode_compressed(msg.data, msg.format)


def bgr_to_image(image: np.ndarray, header: Header, encoding: str = 'bgr8') -> Image:
    data, step = encode_bgr(image, encoding)
    m = Image(
        header=header,
        height=image.shape[0],
        width=image.shape[1],
        encoding=encoding,
        is_bigendian=0,
        step=step,
    )
    m.data = data
    return m


def copy_header(h: Header) -> Header:
    return Header(stamp=h.stamp, frame_id=h.frame_id)


# ------------------------------------------------------------------ depth and camera info
def depth_image_to_metres(msg, depth_scale: float = 0.0) -> np.ndarray:
    """Depth sensor_msgs/Image or compressedDepth CompressedImage -> float32 H x W metres.

    Image: 16UC1/mono16 millimetres, 32FC1 metres; CompressedImage from
    compressed_depth_image_transport ('<encoding>; compressedDepth png'). NaN where invalid;
    ``depth_scale`` > 0 overrides the unit (metres per unit of the raw value).
    Padded rows and big-endian data are accepted. Raises decode.ImageError (kind 'depth_encoding',
    'depth_size', 'depth_data' or 'depth_compressed') naming the problem.
    """
    if not hasattr(msg, 'encoding'):
        return _compressed_depth_to_metres(msg, depth_scale)
    enc = (msg.encoding or '').lower()
    if enc not in DEPTH_ENCODINGS:
        raise ImageError(
            f"depth image encoding '{msg.encoding}' is not supported (16UC1 or mono16 in "
            'millimetres, 32FC1 in metres; depth.depth_scale sets another unit)',
            'depth_encoding',
        )
    h, w, step = int(msg.height), int(msg.width), int(msg.step)
    try:
        check_size(w, h, 'depth image')
    except ImageError as e:
        raise ImageError(str(e).replace('; frame skipped', ''), 'depth_size') from None
    dtype = np.dtype(DEPTH_ENCODINGS[enc]).newbyteorder('>' if msg.is_bigendian else '<')
    row = w * dtype.itemsize
    if step < row:
        raise ImageError(
            f'depth image step {step} is smaller than width*{dtype.itemsize} = {row} for '
            f'{msg.encoding} {w}x{h}',
            'depth_data',
        )
    buf = np.frombuffer(msg.data, dtype=np.uint8)
    if buf.size < step * (h - 1) + row or buf.size > step * h:
        raise ImageError(
            f'depth image data has {buf.size} bytes but {msg.encoding} {w}x{h} with step '
            f'{step} needs {step * h}',
            'depth_data',
        )
    rows = np.lib.stride_tricks.as_strided(buf, shape=(h, row), strides=(step, 1))
    raw = np.ascontiguousarray(rows).view(dtype).reshape(h, w)
    if dtype.byteorder == '>':
        raw = raw.astype(dtype.newbyteorder('='))
    try:
        return depth_to_metres(raw, msg.encoding, depth_scale)
    except ValueError as e:
        raise ImageError(f'depth image unusable: {e}', 'depth_encoding') from None


def _compressed_depth_to_metres(msg, depth_scale: float) -> np.ndarray:
    try:
        raw = decode_compressed_depth(msg.data, msg.format)
    except ImageError as e:
        raise ImageError(f'compressedDepth image: {e}', 'depth_compressed') from None
    enc = msg.format.split(';')[0].strip()
    return depth_to_metres(raw, enc, depth_scale)


def _camera_from_info(msg, image_size=None):
    k = np.asarray(msg.k, np.float64)
    if k.size != 9:
        return None, f'K has {k.size} values, not 9'
    w, h = int(msg.width), int(msg.height)
    if (w <= 0 or h <= 0) and image_size is not None:
        w, h = int(image_size[0]), int(image_size[1])
    cam = CameraModel.from_k(
        k, np.asarray(msg.d, np.float64), w, h, msg.distortion_model or 'plumb_bob'
    )
    problem = cam.problem()
    if problem and (cam.fx == 0 or cam.fy == 0):
        problem += (
            ' (an uncalibrated camera publishes K = 0: calibrate it or publish its intrinsics)'
        )
    return cam, problem or ''


def camera_info_problem(msg, image_size=None) -> str:
    """Why a sensor_msgs/CameraInfo cannot serve as intrinsics ('' when it can).

    ``image_size`` (width, height) stands in for a CameraInfo that leaves width/height at 0.
    """
    return _camera_from_info(msg, image_size)[1]


def camera_info_to_model(msg, image_size=None) -> Optional[CameraModel]:
    """sensor_msgs/CameraInfo -> CameraModel.

    None when K is zero or otherwise unusable (the reason: :func:`camera_info_problem`).
    ``image_size`` (width, height) fills in a CameraInfo whose width/height are 0.
    """
    cam, problem = _camera_from_info(msg, image_size)
    return None if problem else cam


# ------------------------------------------------------------------ results
def _keypoints(kp, sc) -> list:
    kp = np.asarray(kp, np.float64)
    sc = np.asarray(sc, np.float64)
    return [Keypoint(x=kp[i, 0], y=kp[i, 1], score=sc[i]) for i in range(len(kp))]


def track_to_msg(t: TrackOutput, angles=None, posture: int = 0, keypoints_3d=None) -> TrackedPose:
    """One track's 2D fields (box, keypoints, angles, posture).

    3D fields NaN/empty (see result_to_msg).
    """
    p = TrackedPose()
    p.track_id = int(t.track_id)
    p.state = int(t.state)
    p.age = int(t.age)
    p.hits = int(t.hits)
    p.time_since_update = int(t.time_since_update)
    p.x_min, p.y_min, p.x_max, p.y_max = (float(v) for v in t.box)
    p.score = float(t.score)
    if t.keypoints is not None:
        p.keypoints = _keypoints(t.keypoints, t.keypoint_scores)
    else:
        p.keypoints = [Keypoint() for _ in range(Keypoint.NUM_KEYPOINTS)]
    p.joint_angles = [float(a) for a in angles] if angles is not None else [NAN] * 8
    p.posture = int(posture)
    p.symmetry = NAN
    p.position = Point(x=NAN, y=NAN, z=NAN)
    p.velocity = Vector3(x=NAN, y=NAN, z=NAN)
    if keypoints_3d is not None:
        p.keypoints_3d = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in keypoints_3d]
    return p


def tracks_to_msg(
    tracks: Sequence[TrackOutput], header: Header, angles=None, postures=None
) -> TrackedPoseArray:
    """2D-only conversion of a list of tracks (kept for callers without a FrameResult)."""
    poses = [
        track_to_msg(
            t, None if angles is None else angles[i], 0 if postures is None else postures[i]
        )
        for i, t in enumerate(tracks)
    ]
    return TrackedPoseArray(header=copy_header(header), poses=poses)


def _raw_differs(t: TrackOutput) -> bool:
    """Return True when the unsmoothed keypoints differ from the reported ones (smoothing on).

    With keypoint smoothing off they are equal and keypoints_raw stays empty, as TrackedPose.msg
    says.
    """
    if t.keypoints_raw is None or t.keypoints is None:
        return False
    return not (
        np.array_equal(t.keypoints_raw, t.keypoints)
        and np.array_equal(t.keypoint_scores_raw, t.keypoint_scores)
    )


def _fill_3d(p: TrackedPose, poses_3d, i: int) -> None:
    source = int(poses_3d.source[i])
    if source == TrackedPose.SOURCE_3D_NONE:
        return
    kp = np.asarray(poses_3d.keypoints[i], np.float64)
    sc = np.asarray(poses_3d.scores[i], np.float64)
    ok = np.isfinite(kp).all(axis=1) & (sc > 0)
    p.source_3d = source
    p.keypoints_3d = [
        Point(x=kp[j, 0], y=kp[j, 1], z=kp[j, 2]) if ok[j] else Point(x=NAN, y=NAN, z=NAN)
        for j in range(len(kp))
    ]
    p.keypoints_3d_score = [float(sc[j]) if ok[j] else 0.0 for j in range(len(kp))]
    pos = [float(v) for v in poses_3d.positions[i]]
    vel = [float(v) for v in poses_3d.velocities[i]]
    if all(math.isfinite(v) for v in pos):
        p.position = Point(x=pos[0], y=pos[1], z=pos[2])
        if all(math.isfinite(v) for v in vel):
            p.velocity = Vector3(x=vel[0], y=vel[1], z=vel[2])


def result_to_msg(result: FrameResult, header: Header) -> TrackedPoseArray:
    """Convert a pipeline result to TrackedPoseArray with ``header`` (the source image's) copied.

    Per track: box, keypoints (smoothed when smoothing is on), keypoints_raw (only when they differ
    from keypoints, i.e. smoothing is on), joint angles, posture, symmetry (NaN when unknown) and,
    when the frame had depth or camera intrinsics, source_3d, keypoints_3d (NaN point, score 0
    where a keypoint has no 3D value), position and velocity (NaN when unknown).
    """
    tracks = result.tracks
    angles, postures = result.joint_angles, result.postures
    symmetry = result.symmetry
    poses_3d = result.tracks_3d
    out = []
    for i, t in enumerate(tracks):
        p = track_to_msg(
            t, None if angles is None else angles[i], 0 if postures is None else postures[i]
        )
        if symmetry is not None and math.isfinite(float(symmetry[i])):
            p.symmetry = float(symmetry[i])
        if _raw_differs(t):
            raw_scores = (
                t.keypoint_scores if t.keypoint_scores_raw is None else t.keypoint_scores_raw
            )
            p.keypoints_raw = _keypoints(t.keypoints_raw, raw_scores)
        if poses_3d is not None:
            _fill_3d(p, poses_3d, i)
        out.append(p)
    return TrackedPoseArray(header=copy_header(header), poses=out)
