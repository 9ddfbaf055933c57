r"""A video file as a ROS 2 bag (rosbags writer; no ROS install beyond the venv's message types).

    python tools/video_to_bag.py VIDEO OUT_BAG_DIR [--storage mcap|sqlite3] [--compressed] \
        [--max-frames N]

Writes sensor_msgs/Image (bgr8) on /camera/image_raw, or sensor_msgs/CompressedImage (JPEG) on
/camera/image_raw/compressed with --compressed, stamped at the video's frame times from --start.
Useful to try ``python -m poseflow_ros.bag`` or ``ros2 bag play`` when no robot recording is at
hand.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2


def video_to_bag(
    video: Path,
    out: Path,
    storage: str = 'mcap',
    compressed: bool = False,
    max_frames: int = 0,
    frame_id: str = 'camera',
    start: float = 1.0,
) -> int:
    """Write the frames of ``video`` into a new ROS 2 bag directory ``out``.

    Returns the frame count.
    """
    from builtin_interfaces.msg import Time
    from rclpy.serialization import serialize_message
    from rosbags.rosbag2 import StoragePlugin, Writer
    from rosbags.typesys import Stores, get_typestore
    from sensor_msgs.msg import CompressedImage, Image
    from std_msgs.msg import Header

    cap = cv2.VideoCapture(str(video))
    if not cap.isOpened():
        raise SystemExit(f'cannot open video {video}')
    fps = cap.get(cv2.CAP_PROP_FPS) or 30.0
    ts = get_typestore(Stores.ROS2_KILTED)
    w = Writer(out, version=9, storage_plugin=StoragePlugin[storage.upper()])
    w.open()
    if compressed:
        conn = w.add_connection(
            '/camera/image_raw/compressed', 'sensor_msgs/msg/CompressedImage', typestore=ts
        )
    else:
        conn = w.add_connection('/camera/image_raw', 'sensor_msgs/msg/Image', typestore=ts)
    n = 0
    try:
        while max_frames <= 0 or n < max_frames:
            ok, frame = cap.read()
            if not ok:
                break
            t = round((start + n / fps) * 1e9)
            h = Header(stamp=Time(sec=t // 10**9, nanosec=t % 10**9), frame_id=frame_id)
            if compressed:
                m = CompressedImage(header=h, format='jpeg')
                m.data = cv2.imencode('.jpg', frame, [cv2.IMWRITE_JPEG_QUALITY, 90])[1].tobytes()
            else:
                m = Image(
                    header=h,
                    height=frame.shape[0],
                    width=frame.shape[1],
                    encoding='bgr8',
                    step=frame.shape[1] * 3,
                )
                m.data = frame.tobytes()
            w.write(conn, t, serialize_message(m))
            n += 1
    finally:
        w.close()
        cap.release()
    return n


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument('video', type=Path)
    ap.add_argument('out', type=Path, help='bag directory to create (must not exist)')
    ap.add_argument('--storage', choices=('mcap', 'sqlite3'), default='mcap')
    ap.add_argument(
        '--compressed', action='store_true', help='JPEG CompressedImage instead of raw bgr8'
    )
    ap.add_argument('--max-frames', type=int, default=0)
    ap.add_argument('--frame-id', default='camera')
    ap.add_argument('--start', type=float, default=1.0, help='stamp of the first frame, seconds')
    a = ap.parse_args(argv)
    n = video_to_bag(a.video, a.out, a.storage, a.compressed, a.max_frames, a.frame_id, a.start)
    print(f'wrote {n} frames to {a.out}')
    return 0 if n else 1


if __name__ == '__main__':
    sys.exit(main())
