"""Live teleoperation: a hand tracker's keypoints drive the robot hands through playback.

    ros2 launch dyad teleop.launch.py keypoints_topic:=/tracker/hands convention:=mediapipe_world

The tracker publishes geometry_msgs/PoseArray (21 poses per hand, the hands in the order of the
``hands`` parameter); teleop_node retargets every frame, playback_node applies the joint limits,
the velocity limit and the e-stop. Without ``ros2 launch``: ``dyad up --roles teleop,playback``.
"""

from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare


def generate_launch_description() -> LaunchDescription:
    params_file = LaunchConfiguration("params_file")
    arguments = [
        DeclareLaunchArgument(
            "params_file",
            default_value=PathJoinSubstitution([FindPackageShare("dyad"), "params", "dyad.yaml"]),
            description="parameter file of every Dyad node"),
        DeclareLaunchArgument("keypoints_topic", default_value="/dyad/hand_keypoints",
                              description="the tracker's PoseArray topic"),
        DeclareLaunchArgument("convention", default_value="hand21_world",
                              description="keypoint convention (retarget/input_conventions.py)"),
        DeclareLaunchArgument("controller", default_value="joint_trajectory",
                              description="joint_trajectory or forward_position"),
        DeclareLaunchArgument("mock_controller", default_value="true",
                              description="start the mock controller (no hardware)"),
    ]
    nodes = [
        Node(package="dyad", executable="teleop_node", name="dyad_teleop",
             parameters=[params_file, {"convention": LaunchConfiguration("convention")}],
             remappings=[("/dyad/hand_keypoints", LaunchConfiguration("keypoints_topic"))],
             output="screen"),
        Node(package="dyad", executable="playback_node", name="dyad_playback",
             parameters=[params_file, {"controller": LaunchConfiguration("controller")}],
             output="screen"),
        Node(package="dyad", executable="mock_controller_node", name="dyad_mock_controller",
             parameters=[params_file], output="screen",
             condition=IfCondition(LaunchConfiguration("mock_controller"))),
    ]
    return LaunchDescription(arguments + nodes)
