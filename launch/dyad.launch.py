"""The Dyad graph: text on /dyad/command in, checked joint trajectories on the controller topic out.

    ros2 launch dyad dyad.launch.py
    ros2 launch dyad dyad.launch.py remote_endpoint:=tcp://127.0.0.1:5555 mock_controller:=false
    ros2 launch dyad dyad.launch.py controller:=forward_position teleop:=true

Without ``ros2 launch`` (as with the PyPI wheels), ``dyad up`` starts the same nodes with the same
parameter file. Parameters: share/dyad/params/dyad.yaml (``params_file:=`` for your own).
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
        DeclareLaunchArgument("remote_endpoint", default_value="",
                              description="tcp://HOST:PORT of `dyad serve` ('' = in process)"),
        DeclareLaunchArgument("controller", default_value="joint_trajectory",
                              description="joint_trajectory or forward_position"),
        DeclareLaunchArgument("controller_topic",
                              default_value="/joint_trajectory_controller/joint_trajectory",
                              description="where playback sends joint_trajectory commands"),
        DeclareLaunchArgument("mock_controller", default_value="true",
                              description="start the mock controller (no hardware)"),
        DeclareLaunchArgument("teleop", default_value="false",
                              description="start the teleop node"),
        DeclareLaunchArgument("status_topic", default_value="/dyad/status",
                              description="where every node reports state and errors"),
    ]
    status = ("/dyad/status", LaunchConfiguration("status_topic"))
    nodes = [
        Node(package="dyad", executable="generator_node", name="dyad_generator",
             parameters=[params_file,
                         {"remote_endpoint": LaunchConfiguration("remote_endpoint")}],
             remappings=[status], output="screen"),
        Node(package="dyad", executable="retarget_node", name="dyad_retarget",
             parameters=[params_file], remappings=[status], output="screen"),
        Node(package="dyad", executable="validator_node", name="dyad_validator",
             parameters=[params_file], remappings=[status], output="screen"),
        Node(package="dyad", executable="playback_node", name="dyad_playback",
             parameters=[params_file, {"controller": LaunchConfiguration("controller")}],
             remappings=[status, ("/joint_trajectory_controller/joint_trajectory",
                                  LaunchConfiguration("controller_topic"))],
             output="screen"),
        Node(package="dyad", executable="teleop_node", name="dyad_teleop",
             parameters=[params_file], remappings=[status], output="screen",
             condition=IfCondition(LaunchConfiguration("teleop"))),
        Node(package="dyad", executable="mock_controller_node", name="dyad_mock_controller",
             parameters=[params_file], remappings=[status], output="screen",
             condition=IfCondition(LaunchConfiguration("mock_controller"))),
    ]
    return LaunchDescription(arguments + nodes)
