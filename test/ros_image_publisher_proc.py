"""Run as a separate process by the tests: a camera-like publisher of sensor_msgs/Image (bgr8).

    python test/ros_image_publisher_proc.py WIDTH HEIGHT COUNT RATE_HZ RELIABILITY [VIDEO]

Waits for a matched subscriber (with RELIABILITY reliable: for a reliable one, up to 5 s, as an
auto-QoS subscriber re-creates its subscription; then 1 s more), publishes COUNT frames (frames of
VIDEO resized, or a grey ramp), prints READY when matched and PUBLISHED N at the end.
"""

import sys
import time

import cv2
import numpy as np
import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import ReliabilityPolicy
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from poseflow_ros.ros.conversions import bgr_to_image
from poseflow_ros.ros.params import make_qos


def main():
    w, h, count, rate, reliability = (
        int(sys.argv[1]),
        int(sys.argv[2]),
        int(sys.argv[3]),
        float(sys.argv[4]),
        sys.argv[5],
    )
    images = []
    if len(sys.argv) > 6:
        from poseflow_ros.video import VideoReader

        r = VideoReader(sys.argv[6])
        images = [cv2.resize(f, (w, h)) for _, f in zip(range(25), r)]
        r.close()
    if not images:
        images = [np.tile(np.linspace(0, 255, w, dtype=np.uint8)[None, :, None], (h, 1, 3))]
    rclpy.init()
    node = Node('test_camera')
    pub = node.create_publisher(Image, 'image', make_qos(reliability, 5))
    t_end = time.monotonic() + 30
    while pub.get_subscription_count() == 0 and time.monotonic() < t_end:
        rclpy.spin_once(node, timeout_sec=0.05)
    print('READY', flush=True)
    if reliability == 'reliable':
        # an auto-QoS node first subscribes best effort, then re-creates its subscription reliable
        # when it sees this publisher: wait for that one (up to 5 s) or a frame sent in between
        # can be lost (a full test run once missed the first of 50 frames this way)
        t_end = time.monotonic() + 5.0
        while time.monotonic() < t_end and not (
            any(
                i.qos_profile.reliability == ReliabilityPolicy.RELIABLE
                for i in node.get_subscriptions_info_by_topic(pub.topic_name)
            )
            and pub.get_subscription_count() >= 1
        ):
            rclpy.spin_once(node, timeout_sec=0.05)
    time.sleep(1.0)
    next_t = time.monotonic()
    for i in range(count):
        hd = Header(stamp=node.get_clock().now().to_msg(), frame_id='camera')
        pub.publish(bgr_to_image(images[i % len(images)], hd))
        next_t += 1.0 / rate
        time.sleep(max(0.0, next_t - time.monotonic()))
    if reliability == 'reliable':
        # like a camera that stays up: every frame delivered before this process goes. A reliable
        # writer that exits mid-transfer leaves the node's reader with partial 7680x4320 samples
        # (in the failing runs of the memory test: 5 large frames processed, the 3840x2160 ones,
        # and 120-390 MB held that no release of the node frees, since no large frame completed)
        pub.wait_for_all_acked(Duration(seconds=30))
    time.sleep(0.5)
    print(f'PUBLISHED {count}', flush=True)
    node.destroy_node()
    rclpy.shutdown()


if __name__ == '__main__':
    main()
