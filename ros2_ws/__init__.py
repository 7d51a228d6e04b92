"""Dyad's ROS 2 nodes (installed as ``dyad.ros2``): thin shells over the library.

Graph (default topic names; every one is remappable)::

    /dyad/command ─► generator_node ─► /dyad/human_motion ─► retarget_node
                          └─► /dyad/human_markers                 │
                                            /dyad/robot/joint_trajectory (unchecked)
                                                                  ▼
    /dyad/validation ◄──────────────────────────────────── validator_node
                                         /dyad/checked/joint_trajectory
                                                                  ▼
    /dyad/hand_keypoints ─► teleop_node ─► /dyad/teleop/... ─► playback_node ─► controller
                                                 /dyad/estop ─────┘         (or mock_controller)

Modules that import rclpy or message packages: the ``*_node`` modules, ``node_base``,
``conversions``, ``graph_probe``. The rest (command parsing, robot sets, chunk retargeting,
limits, the playback schedule, the process graph, ``dyad up``'s option handling, bag writing)
import no ROS and are tested without a graph. See docs/ros2.md.
"""
