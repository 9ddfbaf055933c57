"""poseflow_ros is an ament_cmake package, not a setuptools/ament_python one.

CMakeLists.txt generates the messages (rosidl) into the ``poseflow_ros`` Python package and
installs the hand-written modules beside them. colcon reads package.xml (build_type
ament_cmake); pip reads pyproject.toml (scikit-build-core). Neither runs this file: it only
exists so that a stray ``python setup.py ...`` says how to build instead of doing something wrong.
"""

import sys

if __name__ == '__main__':
    sys.exit(
        'poseflow_ros is built with CMake:\n'
        '  colcon build --packages-select poseflow_ros       # in a ROS 2 workspace\n'
        '  pip install --no-build-isolation -e .             # in a plain venv (see README)\n'
    )
