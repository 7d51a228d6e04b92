"""Dyad's ROS 2 nodes (installed as ``dyad.ros2``): thin shells over the library.

Graph (default topic names; every one is remappable)::

    /dyad/command ─► generator_node ─► /dyad/human_motion ─► retarget_node ─► /dyad/robot/joint_trajectory
                                   └─► /dyad/human_markers                               │
    validator_node ◄────────────────────────────────────────────────────────────────────┘
        ├─► /dyad/checked/joint_trajectory ─► playback_node ─► controller topic ─► (robot or MockController)
        └─► /dyad/validation                      ▲   ▲
    tracker ─► /dyad/hand_keypoints ─► teleop_node ┘   └── /dyad/estop

Only the modules named ``*_node`` import rclpy; the ROS-free parts (command parsing, chunk
retargeting glue, limits, the playback schedule) are importable and testable without ROS.
See docs/ros2.md.
"""
