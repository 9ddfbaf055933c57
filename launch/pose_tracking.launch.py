r"""Launch the pose tracker (and, optionally, a video file source and RViz).

    ros2 launch poseflow_ros pose_tracking.launch.py image_topic:=/camera/image_raw device:=cuda
    ros2 launch poseflow_ros pose_tracking.launch.py video_file:=/path/to/walk.mp4 rviz:=true
    ros2 launch poseflow_ros pose_tracking.launch.py video_file:=/path/to/walk.mp4 \
        namespace:=robot1
    ros2 launch poseflow_ros pose_tracking.launch.py image_topic:=/camera/color/image_raw \
        camera_info_topic:=/camera/color/camera_info use_depth:=true \
        depth_topic:=/camera/aligned_depth_to_color/image_raw
    ros2 launch poseflow_ros pose_tracking.launch.py --show-args

Topics are relative, so with namespace:=robot1 the output is /robot1/tracked_poses (and the default
image topic /robot1/camera/image_raw); an absolute image_topic stays as it is. rviz:=true without
rviz2 installed logs a warning and carries on without RViz.
"""

import os
import shutil
import tempfile

import yaml
from ament_index_python.packages import (
    PackageNotFoundError,
    get_package_prefix,
    get_package_share_directory,
)
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.logging import get_logger
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue
from launch_ros.utilities import make_namespace_absolute, prefix_namespace

BOOL = ['true', 'false']


def _arguments(share):
    return [
        DeclareLaunchArgument(
            'namespace',
            default_value='',
            description='ROS namespace of the nodes (e.g. robot1); their topics land '
            'under it: /<namespace>/tracked_poses, ...',
        ),
        DeclareLaunchArgument(
            'image_topic',
            default_value='camera/image_raw',
            description='sensor_msgs/Image topic to track people in (relative: under '
            'namespace); image_topic/compressed with image_transport: '
            'compressed',
        ),
        DeclareLaunchArgument(
            'camera_info_topic',
            default_value='camera/camera_info',
            description='sensor_msgs/CameraInfo of the colour image (intrinsics for 3D '
            'and marker placement; relative: under namespace)',
        ),
        DeclareLaunchArgument(
            'use_depth',
            default_value='false',
            choices=BOOL,
            description='pair the colour frames with depth_topic: 3D keypoints, position '
            'and velocity from depth',
        ),
        DeclareLaunchArgument(
            'depth_topic',
            default_value='camera/depth_registered/image_raw',
            description='sensor_msgs/Image depth registered to the colour image (16UC1 mm '
            'or 32FC1 m), used with use_depth:=true; depth_topic/'
            'compressedDepth with depth_transport: compressedDepth',
        ),
        DeclareLaunchArgument(
            'params_file',
            default_value=os.path.join(share, 'config', 'pose_tracking.yaml'),
            description='pose_tracker parameters (YAML; its pose_tracker: section is '
            'applied under namespace too)',
        ),
        DeclareLaunchArgument(
            'device',
            default_value='auto',
            description='auto | cpu | cuda | cuda:N (auto: CUDA when torch sees a GPU)',
        ),
        DeclareLaunchArgument(
            'video_file',
            default_value='',
            description='if set, publish this video file (looped) on image_topic with '
            'video_source instead of a camera',
        ),
        DeclareLaunchArgument(
            'publish_debug_image',
            default_value='false',
            choices=BOOL,
            description='publish the annotated image on debug_image',
        ),
        DeclareLaunchArgument(
            'autostart',
            default_value='true',
            choices=BOOL,
            description='pose_tracker (a lifecycle node) configures and activates '
            'itself at start; false: it waits for ros2 lifecycle set',
        ),
        DeclareLaunchArgument(
            'rviz',
            default_value='false',
            choices=BOOL,
            description='start RViz with config/poseflow.rviz (if rviz2 is not '
            'installed: a warning, and the rest runs without it)',
        ),
    ]


def _params_file_for(path, name, fqn):
    """Return the params file as given, or a renamed copy for a node in a namespace.

    In the copy, the top-level `<name>:` / `/<name>:` section is renamed to the node's full name
    (what rcl matches it against; unchanged, such a section would not apply to
    /<namespace>/<name>).
    """
    if fqn == '/' + name or not os.path.isfile(path):
        return path
    with open(path) as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict) or not ({name, '/' + name} & set(data)):
        return path
    data = {(fqn if k in (name, '/' + name) else k): v for k, v in data.items()}
    with tempfile.NamedTemporaryFile(
        'w', prefix=f'{name}_params_', suffix='.yaml', delete=False
    ) as f:
        yaml.safe_dump(data, f, sort_keys=False)
        return f.name


def _rviz2_installed():
    try:
        prefix = get_package_prefix('rviz2')
    except PackageNotFoundError:
        return False
    return os.path.isfile(os.path.join(prefix, 'lib', 'rviz2', 'rviz2'))


def _setup(context, share):
    arg = lambda name: LaunchConfiguration(name).perform(context)  # noqa: E731
    namespace = arg('namespace')
    image_topic = arg('image_topic')
    video_file = arg('video_file')
    # the namespace the nodes will get (an enclosing PushRosNamespace included), for the params
    # files
    full_ns = make_namespace_absolute(
        prefix_namespace(context.launch_configurations.get('ros_namespace', None), namespace)
    ).rstrip('/')
    image_remaps = [('image', image_topic), ('image/compressed', image_topic + '/compressed')]
    input_remaps = image_remaps + [
        ('camera_info', arg('camera_info_topic')),
        ('depth/image', arg('depth_topic')),
        ('depth/image/compressedDepth', arg('depth_topic') + '/compressedDepth'),
    ]
    actions = []
    if video_file:
        actions.append(
            Node(
                package='poseflow_ros',
                executable='video_source',
                name='video_source',
                namespace=namespace,
                parameters=[
                    _params_file_for(
                        os.path.join(share, 'config', 'video_source.yaml'),
                        'video_source',
                        full_ns + '/video_source',
                    ),
                    {'video_path': ParameterValue(video_file, value_type=str), 'loop': True},
                ],
                remappings=image_remaps,
                output='screen',
            )
        )
    actions.append(
        Node(
            package='poseflow_ros',
            executable='pose_tracker',
            name='pose_tracker',
            namespace=namespace,
            parameters=[
                _params_file_for(arg('params_file'), 'pose_tracker', full_ns + '/pose_tracker'),
                {
                    'device': ParameterValue(arg('device'), value_type=str),
                    'publish_debug_image': arg('publish_debug_image') == 'true',
                    'use_depth': arg('use_depth') == 'true',
                    'autostart': arg('autostart') == 'true',
                },
            ],
            remappings=input_remaps,
            output='screen',
            emulate_tty=True,
        )
    )
    if arg('rviz') == 'true':
        if _rviz2_installed():
            # poseflow.rviz names the un-namespaced topics; point them at this launch's ones
            actions.append(
                Node(
                    package='rviz2',
                    executable='rviz2',
                    name='rviz2',
                    namespace=namespace,
                    arguments=['-d', os.path.join(share, 'config', 'poseflow.rviz')],
                    remappings=[
                        ('/markers', 'markers'),
                        ('/debug_image', 'debug_image'),
                        ('/camera/image_raw', image_topic),
                    ],
                    output='screen',
                )
            )
        else:
            distro = os.environ.get('ROS_DISTRO', '<distro>')
            get_logger('pose_tracking.launch').warning(
                "rviz:=true, but rviz2 is not installed (no rviz2 package in the ament index, "
                f"AMENT_PREFIX_PATH={os.environ.get('AMENT_PREFIX_PATH', '')!r}"
                f"{'' if shutil.which('rviz2') is None else '; an rviz2 on PATH is not in it'}): "
                "carrying on without RViz. rviz2 is not on PyPI; install it with your ROS 2 "
                f"distribution (e.g. `sudo apt install ros-{distro}-rviz2`, then `source "
                f"/opt/ros/{distro}/setup.bash`), or run `rviz2 -d "
                f"{os.path.join(share, 'config', 'poseflow.rviz')}` on a machine in the same "
                "ROS domain."
            )
    return actions


def generate_launch_description():
    share = get_package_share_directory('poseflow_ros')
    return LaunchDescription(_arguments(share) + [OpaqueFunction(function=_setup, args=[share])])
