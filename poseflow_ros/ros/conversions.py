"""Message <-> core conversions (the only place that knows both worlds)."""
from __future__ import annotations

from typing import Sequence

import numpy as np
from geometry_msgs.msg import Point
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from ..decode import decode_compressed, decode_raw, encode_bgr
from ..types import TrackOutput

from poseflow_ros.msg import Keypoint, TrackedPose, TrackedPoseArray


def image_to_bgr(msg) -> np.ndarray:
    """sensor_msgs/Image or CompressedImage -> BGR uint8 (raises decode.ImageError)."""
    if hasattr(msg, 'encoding'):
        return decode_raw(msg.data, msg.height, msg.width, msg.encoding, msg.step)
    return decode_compressed(msg.data, msg.format)


def bgr_to_image(image: np.ndarray, header: Header, encoding: str = 'bgr8') -> Image:
    data, step = encode_bgr(image, encoding)
    m = Image(header=header, height=image.shape[0], width=image.shape[1], encoding=encoding,
              is_bigendian=0, step=step)
    m.data = data
    return m


def copy_header(h: Header) -> Header:
    return Header(stamp=h.stamp, frame_id=h.frame_id)


def track_to_msg(t: TrackOutput, angles=None, posture: int = 0, keypoints_3d=None) -> TrackedPose:
    p = TrackedPose()
    p.track_id = int(t.track_id)
    p.state = int(t.state)
    p.age = int(t.age)
    p.hits = int(t.hits)
    p.time_since_update = int(t.time_since_update)
    p.x_min, p.y_min, p.x_max, p.y_max = (float(v) for v in t.box)
    p.score = float(t.score)
    if t.keypoints is not None:
        kp = t.keypoints.astype(float)
        sc = t.keypoint_scores.astype(float)
        p.keypoints = [Keypoint(x=kp[i, 0], y=kp[i, 1], score=sc[i]) for i in range(len(kp))]
    else:
        p.keypoints = [Keypoint() for _ in range(Keypoint.NUM_KEYPOINTS)]
    p.joint_angles = [float(a) for a in angles] if angles is not None else [float('nan')] * 8
    p.posture = int(posture)
    if keypoints_3d is not None:
        p.keypoints_3d = [Point(x=float(x), y=float(y), z=float(z)) for x, y, z in keypoints_3d]
    return p


def tracks_to_msg(tracks: Sequence[TrackOutput], header: Header, angles=None, postures=None
                  ) -> TrackedPoseArray:
    poses = [track_to_msg(t, None if angles is None else angles[i], 0 if postures is None else postures[i])
             for i, t in enumerate(tracks)]
    return TrackedPoseArray(header=copy_header(header), poses=poses)
