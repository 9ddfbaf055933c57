"""Recorded bags in, tracked poses out.

``python -m poseflow_ros.bag INPUT --out DIR`` (or ``poseflow_bag``).

Reads ROS 1 ``.bag`` and ROS 2 (sqlite3, mcap) bags with ``rosbags``, runs the pose_tracker's
pipeline on the colour topic (with registered depth and CameraInfo for 3D when the bag has them)
and writes ``DIR/tracked_poses.mcap`` (a ROS 2 bag: ``tracked_poses``, ``markers``),
``DIR/summary.json`` and ``DIR/annotated.mp4``. ``--help`` lists the options; the implementation
(it serialises ROS messages) is :mod:`poseflow_ros.ros.bag_tool`.
"""

import sys


def main(argv=None) -> int:
    """Command line entry; see :func:`poseflow_ros.ros.bag_tool.main`."""
    from .ros.bag_tool import main as bag_main

    return bag_main(argv)


if __name__ == '__main__':
    sys.exit(main())
