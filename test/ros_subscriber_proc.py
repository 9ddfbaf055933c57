"""Run as a separate process by the tests: subscribe to tracked_poses, print what arrived as JSON.

python test/ros_subscriber_proc.py COUNT TIMEOUT_S
"""

import json
import sys
import time

import rclpy
from rclpy.node import Node

from poseflow_ros.msg import TrackedPoseArray


def main():
    count, timeout = int(sys.argv[1]), float(sys.argv[2])
    rclpy.init()
    node = Node('test_remote_subscriber')
    got = []
    node.create_subscription(TrackedPoseArray, 'tracked_poses', got.append, 50)
    print('READY', flush=True)
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end and len(got) < count:
        rclpy.spin_once(node, timeout_sec=0.1)
    out = [
        {
            'sec': m.header.stamp.sec,
            'nanosec': m.header.stamp.nanosec,
            'frame_id': m.header.frame_id,
            'n': len(m.poses),
            'nkp': [len(p.keypoints) for p in m.poses],
        }
        for m in got
    ]
    print(json.dumps(out), flush=True)
    node.destroy_node()
    rclpy.shutdown()
    return 0 if len(got) >= count else 1


if __name__ == '__main__':
    sys.exit(main())
