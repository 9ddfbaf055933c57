"""poseflow_ros: top-down human pose estimation + multi-person tracking for ROS 2.

The core (``poseflow_ros.pipeline`` and the stage packages ``detect``, ``pose``, ``track``)
has no ROS imports; the ROS 2 nodes live in ``poseflow_ros.ros``. The generated
message classes are ``poseflow_ros.msg`` (built by CMake/rosidl).
"""

__version__ = '0.1.0'
