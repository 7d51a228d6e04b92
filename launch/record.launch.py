"""Record the Dyad topics (command, human motion, robot chunks, verdicts) to a rosbag2 MCAP bag.

    ros2 launch dyad record.launch.py path:=bags/run1

Uses ``rosbags`` (no rosbag2 install needed); ``ros2 bag info bags/run1`` reads the result.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    return LaunchDescription([
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("dyad"), "params", "dyad.yaml"]),
            description="parameter file of every Dyad node"),
        DeclareLaunchArgument("path", description="bag folder to create"),
        Node(package="dyad", executable="bag_recorder_node", name="dyad_bag_recorder",
             parameters=[LaunchConfiguration("params_file"),
                         {"path": LaunchConfiguration("path")}],
             output="screen"),
    ])
