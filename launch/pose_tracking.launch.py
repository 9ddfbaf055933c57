"""Launch the pose tracker (and, optionally, a video file source and RViz).

    ros2 launch poseflow_ros pose_tracking.launch.py image_topic:=/camera/image_raw device:=cuda
    ros2 launch poseflow_ros pose_tracking.launch.py video_file:=/path/to/walk.mp4 rviz:=true
"""
import os

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PythonExpression
from launch_ros.actions import Node


def generate_launch_description():
    share = get_package_share_directory('poseflow_ros')
    image_topic = LaunchConfiguration('image_topic')
    params_file = LaunchConfiguration('params_file')
    device = LaunchConfiguration('device')
    video_file = LaunchConfiguration('video_file')
    use_video = PythonExpression(["'", video_file, "' != ''"])
    return LaunchDescription([
        DeclareLaunchArgument('image_topic', default_value='/camera/image_raw',
                              description='sensor_msgs/Image topic to track people in'),
        DeclareLaunchArgument('params_file',
                              default_value=os.path.join(share, 'config', 'pose_tracking.yaml'),
                              description='pose_tracker parameters'),
        DeclareLaunchArgument('device', default_value='auto', description='auto | cpu | cuda'),
        DeclareLaunchArgument('video_file', default_value='',
                              description='if set, publish this video on image_topic instead of a camera'),
        DeclareLaunchArgument('publish_debug_image', default_value='true',
                              description='publish the annotated image on debug_image'),
        DeclareLaunchArgument('rviz', default_value='false', description='start RViz with config/poseflow.rviz'),
        Node(package='poseflow_ros', executable='video_source', name='video_source',
             condition=IfCondition(use_video),
             parameters=[os.path.join(share, 'config', 'video_source.yaml'),
                         {'video_path': video_file, 'loop': True}],
             remappings=[('image', image_topic)], output='screen'),
        Node(package='poseflow_ros', executable='pose_tracker', name='pose_tracker',
             parameters=[params_file, {'device': device,
                                       'publish_debug_image': LaunchConfiguration('publish_debug_image')}],
             remappings=[('image', image_topic),
                         ('image/compressed', [image_topic, '/compressed'])],
             output='screen', emulate_tty=True),
        Node(package='rviz2', executable='rviz2', name='rviz2',
             condition=IfCondition(LaunchConfiguration('rviz')),
             arguments=['-d', os.path.join(share, 'config', 'poseflow.rviz')]),
    ])
