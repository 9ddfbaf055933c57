"""video_source: publishes a video file as sensor_msgs/Image at its frame rate (for demos and tests).

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
from rclpy.executors import SingleThreadedExecutor
from rclpy.node import Node
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import CompressedImage, Image
from std_msgs.msg import Header

from ..video import VideoReader
from .conversions import bgr_to_image
from .process import ignore_stop_signals, install_stop_handlers
from .params import ParameterError, declare, make_qos


class VideoSourceNode(Node):
    def __init__(self, **kwargs):
        super().__init__('video_source', **kwargs)
        path = declare(self, 'video_path', '', 'Video file to publish (required).')
        self.frame_id = declare(self, 'frame_id', 'camera', 'frame_id written into every image header.')
        rate = declare(self, 'rate', 0.0, 'Publish rate in Hz; 0 = the file frame rate.', range_=(0.0, 1000.0))
        self.loop = declare(self, 'loop', False, 'Start again at the end of the file.')
        self.encoding = declare(self, 'encoding', 'bgr8', 'Encoding of the published raw images.',
                                choices=('bgr8', 'rgb8', 'mono8', 'bgra8', 'rgba8'))
        self.compressed = declare(self, 'publish_compressed', False,
                                  'Also publish JPEG sensor_msgs/CompressedImage on image/compressed.')
        self.max_frames = declare(self, 'max_frames', 0, 'Stop after this many frames (0 = no limit).',
                                  range_=(0, 10**9))
        self.wait_subs = declare(self, 'wait_for_subscribers', 0.0,
                                 'Seconds to wait for a subscriber on image before starting (0 = do not wait).',
                                 range_=(0.0, 3600.0))
        self.exit_when_done = declare(self, 'exit_when_done', True,
                                      'Shut down when the file ends (when not looping).')
        reliability = declare(self, 'qos_reliability', 'reliable',
                              'Reliability of the image publisher (reliable also serves best-effort subscribers).',
                              choices=('best_effort', 'reliable'))
        self.settle = declare(self, 'settle_time', 1.0,
                              'Seconds to wait after the first subscriber matched before publishing '
                              '(with wait_for_subscribers), so auto-QoS subscribers can settle.',
                              range_=(0.0, 60.0))
        if not path:
            raise ParameterError("parameter 'video_path' is empty: pass -p video_path:=/path/to/video.mp4")
        self.reader = VideoReader(path, loop=self.loop)
        self.period = 1.0 / (rate if rate > 0 else self.reader.fps)
        qos = make_qos(reliability, 2)
        self.pub = self.create_publisher(Image, 'image', qos)
        self.pub_c = self.create_publisher(CompressedImage, 'image/compressed', qos) if self.compressed else None
        self.published = 0
        self.done = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self.get_logger().info(f'publishing {path} ({self.reader.width}x{self.reader.height}, '
                               f'{1.0 / self.period:.1f} Hz, {self.reader.frame_count} frames)')

    def _run(self) -> None:
        t_end = time.monotonic() + self.wait_subs
        if self.wait_subs:
            while self.pub.get_subscription_count() == 0 and time.monotonic() < t_end:
                if self.done.wait(0.05):
                    return self._finish()
            # a subscriber with qos_reliability: auto re-subscribes once it has seen this publisher's QoS:
            # give it that moment so the first frames are not sent to a subscription that is going away
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
                next_t = time.monotonic()   # running late: do not burst to catch up
        self._finish()

    def _finish(self) -> None:
        self.get_logger().info(f'published {self.published} frames')
        self.done.set()

    def destroy_node(self):
        if not hasattr(self, '_thread'):       # constructor failed before the thread existed
            return super().destroy_node()
        self.done.set()
        self._thread.join(timeout=5.0)
        self.reader.close()
        return super().destroy_node()


def main(args=None) -> int:
    """Publish until the file ends (exit_when_done) or SIGINT/SIGTERM; exit 0, or 2 on a bad start-up."""
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
                break
    finally:
        ignore_stop_signals()
        node.destroy_node()       # stops the publishing thread before the context goes away
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
