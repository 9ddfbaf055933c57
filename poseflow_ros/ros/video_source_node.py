"""video_source: publishes a video file as sensor_msgs/Image at its frame rate (demos, tests).

    video_source --ros-args --params-file config/video_source.yaml -p video_path:=walk.mp4
Publishes ``image`` (and ``image/compressed`` JPEG when publish_compressed is true), stamped
with the current ROS time at publication, frame_id from the parameter.
"""

from __future__ import annotations

import sys
import threading
import time

import cv2
import rclpy
from rclpy.duration import Duration
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ..video import VideoReader
from .conversions import bgr_to_image
from .process import ignore_stop_signals, install_stop_handlers
from .node_settings import VideoSourceSettings
from .params import ParameterError, declare_settings, make_qos, read_settings


class VideoSourceNode(Node):
    def __init__(self, **kwargs):
        super().__init__('video_source', **kwargs)
        declare_settings(self, VideoSourceSettings, runtime_note=False)
        cfg = VideoSourceSettings(**read_settings(self, VideoSourceSettings))
        path, rate, reliability = cfg.video_path, cfg.rate, cfg.qos_reliability
        self.frame_id, self.loop, self.encoding = cfg.frame_id, cfg.loop, cfg.encoding
        self.compressed, self.max_frames = cfg.publish_compressed, cfg.max_frames
        self.wait_subs = cfg.wait_for_subscribers
        self.settle, self.exit_when_done = cfg.settle_time, cfg.exit_when_done
        if not path:
            raise ParameterError(
                "parameter 'video_path' is empty: pass -p video_path:=/path/to/video.mp4"
            )
        self.reader = VideoReader(path, loop=self.loop)
        self.period = 1.0 / (rate if rate > 0 else self.reader.fps)
        qos = make_qos(reliability, 2)
        self.pub = self.create_publisher(Image, 'image', qos)
        self.pub_c = (
            self.create_publisher(CompressedImage, 'image/compressed', qos)
            if self.compressed
            else None
        )
        self.published = 0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.get_logger().info(
            f'publishing {path} ({self.reader.width}x{self.reader.height}, '
            f'{1.0 / self.period:.1f} Hz, {self.reader.frame_count} frames)'
        )

    def _run(self) -> None:
        t_end = time.monotonic() + self.wait_subs
        if self.wait_subs:
            while self.pub.get_subscription_count() == 0 and time.monotonic() < t_end:
                if self.done.wait(0.05):
                    return self._finish()
            # a subscriber with qos_reliability: auto re-subscribes once it has seen this
            # publisher's QoS: give it that moment so the first frames are not sent to a
            # subscription that is going away
            if self.done.wait(self.settle):
                return self._finish()
        next_t = time.monotonic()
        while not self.done.is_set():
            frame = self.reader.read()
            if frame is None or (self.max_frames and self.published >= self.max_frames):
                break
            header = Header(stamp=self.get_clock().now().to_msg(), frame_id=self.frame_id)
            try:
                self.pub.publish(bgr_to_image(frame, header, self.encoding))
                if self.pub_c is not None:
                    ok, jpg = cv2.imencode('.jpg', frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
                    c = CompressedImage(header=header, format='jpeg')
                    c.data = jpg.tobytes()
                    self.pub_c.publish(c)
            except Exception:  # noqa: BLE001 -- only when the context went away under us at shutdown
                if self.done.is_set() or not self.context.ok():
                    break
                raise
            self.published += 1
            next_t += self.period
            delay = next_t - time.monotonic()
            if delay > 0:
                self.done.wait(delay)
            else:
                next_t = time.monotonic()  # running late: do not burst to catch up
        self._finish()

    def _finish(self) -> None:
        self.get_logger().info(f'published {self.published} frames')
        self.done.set()

    def destroy_node(self):
        if not hasattr(self, '_thread'):  # constructor failed before the thread existed
            return super().destroy_node()
        self.done.set()
        self._thread.join(timeout=5.0)
        self.reader.close()
        return super().destroy_node()


def main(args=None) -> int:
    """Publish until the file ends (exit_when_done) or SIGINT/SIGTERM.

    Exit 0, or 2 on a bad start-up.
    """
    rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO)
    stop = install_stop_handlers()
    try:
        node = VideoSourceNode()
    except (ParameterError, FileNotFoundError, ValueError) as e:
        ignore_stop_signals()
        print(f'[video_source] FATAL: {e}', file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        while not stop.is_set():
            executor.spin_once(timeout_sec=0.1)
            if node.done.is_set() and node.exit_when_done and not node.loop:
                # the file ended: let reliable subscribers take (or get resent) the last frames
                # before the writer goes away, else a subscriber that lost a fragment of one never
                # gets it
                for pub in (node.pub, node.pub_c):
                    if pub is not None:
                        pub.wait_for_all_acked(Duration(seconds=5.0))
                break
    finally:
        ignore_stop_signals()
        node.destroy_node()  # stops the publishing thread before the context goes away
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
