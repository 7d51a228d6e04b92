"""Joint-space robot trajectories built without IK: still poses, slow finger waves, two hands
whose palms face each other at a scripted gap. Tests, ``dyad bench validate`` and demos use
them to exercise the gate on known-good and deliberately bad motion.
"""

from __future__ import annotations

import math

import numpy as np

from dyad.motion import ContactInterval
from dyad.retarget.robot_model import RobotModel
from dyad.retarget.trajectory import FREE_JOINT_COLUMNS, RobotTrajectory

FPS = 30.0


def open_pose(robot: RobotModel) -> np.ndarray:
    """(J,) the robot's zero pose clipped into its joint ranges (an open hand, arms down)."""
    low, high = np.asarray(robot.lower), np.asarray(robot.upper)
    return np.clip(np.zeros(robot.dof), np.where(np.isfinite(low), low, -np.inf),
                   np.where(np.isfinite(high), high, np.inf))


def apply_mimic(robot: RobotModel, qpos: np.ndarray) -> np.ndarray:
    """``qpos`` (T, J) with every mimic follower set from its leader."""
    qpos = np.array(qpos, dtype=float)
    names = list(robot.joint_names)
    for follower, leader, multiplier, offset in robot.mimic:
        if follower in names and leader in names:
            qpos[:, names.index(follower)] = multiplier * qpos[:, names.index(leader)] + offset
    return qpos


def finger_wave(robot: RobotModel, seconds: float, amplitude: float = 0.25,
                frequency_hz: float = 0.4, fps: float = FPS) -> np.ndarray:
    """(T, J) slow flexion of every finger joint (a fraction ``amplitude`` of its range)."""
    t = np.arange(int(round(seconds * fps))) / fps
    q = np.tile(open_pose(robot), (len(t), 1))
    fingers = {j for hand in robot.hands.values() for j in hand.finger_joints}
    for j, name in enumerate(robot.joint_names):
        if name not in fingers or not np.isfinite(robot.upper[j] - robot.lower[j]):
            continue
        span = robot.upper[j] - robot.lower[j]
        phase = 0.3 * j
        target = robot.lower[j] + amplitude * span * 0.5 * (1 - np.cos(2 * np.pi *
                                                                        frequency_hz * t + phase))
        q[:, j] = np.clip(target, robot.lower[j], robot.upper[j])
    return apply_mimic(robot, q)


def palm_axes(robot: RobotModel, side: str
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Finger direction, palm normal (out of the palm), palm centre and the mean of the open
    index/middle/ring tips, in the model's frame.

    Measured on the model: wrist -> middle-finger tip at the open pose gives the finger
    direction; the way the tips move when the fingers curl gives the palm side.
    """
    import mujoco

    model = mujoco.MjModel.from_xml_string(robot.model_xml)
    data = mujoco.MjData(model)
    mapping = robot.hands[side]

    def frame_pos(name: str) -> np.ndarray:
        site = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SITE, name)
        if site >= 0:
            return data.site_xpos[site].copy()
        return data.xpos[mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, name)].copy()

    def pose(q: np.ndarray) -> None:
        data.qpos[:] = model.qpos0
        for name, value in zip(robot.joint_names, q):
            jid = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, name)
            data.qpos[model.jnt_qposadr[jid]] = value
        mujoco.mj_kinematics(model, data)

    q_open = open_pose(robot)
    pose(q_open)
    tips = [mapping.keypoint_frames[i] for i in (8, 12, 16) if i in mapping.keypoint_frames]
    bases = [mapping.keypoint_frames[i] for i in (5, 9, 13) if i in mapping.keypoint_frames]
    wrist = frame_pos(mapping.wrist_frame)
    open_tips = np.mean([frame_pos(t) for t in tips], axis=0)
    knuckles = np.mean([frame_pos(b) for b in bases], axis=0) if bases else open_tips
    finger = open_tips - wrist
    finger /= np.linalg.norm(finger)
    q_curl = q_open.copy()
    finger_joints = set(mapping.finger_joints)
    for j, name in enumerate(robot.joint_names):
        if name in finger_joints:
            low, high = robot.lower[j], robot.upper[j]
            q_curl[j] = low + 0.5 * (high - low) if abs(high) >= abs(low) else high + 0.5 * (low - high)
    pose(apply_mimic(robot, q_curl[None])[0])
    curl = np.mean([frame_pos(t) for t in tips], axis=0) - open_tips
    normal = curl - finger * (curl @ finger)
    normal /= np.linalg.norm(normal)
    centre = 0.5 * (wrist + knuckles)
    return finger, normal, centre, open_tips


def _rotation_to_quat(rot: np.ndarray) -> np.ndarray:
    import mujoco

    quat = np.empty(4)
    mujoco.mju_mat2Quat(quat, rot.reshape(-1))
    return quat


def base_pose_for_hand(robot: RobotModel, side: str, anchor_world: np.ndarray,
                       normal_world: np.ndarray, finger_world: np.ndarray,
                       anchor: str = "palm") -> tuple[np.ndarray, np.ndarray]:
    """Root position and quaternion that put the hand's ``anchor`` (``palm`` centre or open
    ``tips``) at ``anchor_world``, its palm normal along ``normal_world`` and its fingers along
    ``finger_world``."""
    finger, normal, centre, tips = palm_axes(robot, side)
    model_axes = np.stack([finger, normal, np.cross(finger, normal)], axis=1)
    fw = finger_world / np.linalg.norm(finger_world)
    nw = normal_world - fw * (normal_world @ fw)
    nw /= np.linalg.norm(nw)
    world_axes = np.stack([fw, nw, np.cross(fw, nw)], axis=1)
    rot = world_axes @ model_axes.T
    point = centre if anchor == "palm" else tips
    return anchor_world - rot @ point, _rotation_to_quat(rot)


def facing_hands(left: RobotModel, right: RobotModel, gap_m: np.ndarray,
                 height_m: float = 1.0, left_q: np.ndarray | None = None,
                 right_q: np.ndarray | None = None, contacts: list[ContactInterval] = (),
                 mode: str = "palms", fps: float = FPS) -> RobotTrajectory:
    """Two hands (instances ``left`` and ``right``) facing each other across Y.

    Args:
        left, right: the two hand robots.
        gap_m: (T,) distance between the anchors: palm centres (``palms``: palms facing,
            fingers up, as in a clap) or open fingertips (``fingertips``: fingers pointing at
            each other, palms down, as in a fingertip touch).
        height_m: height of the anchors.
        left_q, right_q: (T, J) finger joints (the open pose when None).
        contacts: contact intervals (agents ``left`` / ``right``).
        mode: ``palms`` or ``fingertips``.
    """
    gap_m = np.asarray(gap_m, dtype=float)
    t = len(gap_m)
    columns, blocks = [], []
    for name, robot, q, sign in (("left", left, left_q, 1.0), ("right", right, right_q, -1.0)):
        side = next(iter(robot.hands))
        q = np.tile(open_pose(robot), (t, 1)) if q is None else np.asarray(q, dtype=float)
        if mode == "palms":
            normal, finger, anchor = np.array([0.0, -sign, 0.0]), np.array([0.0, 0.0, 1.0]), "palm"
        else:
            normal, finger, anchor = np.array([0.0, 0.0, -1.0]), np.array([0.0, -sign, 0.0]), "tips"
        roots = np.empty((t, 7))
        pos0, quat = base_pose_for_hand(robot, side, np.array([0.0, 0.0, height_m]), normal,
                                        finger, anchor)
        for f in range(t):
            roots[f, :3] = pos0 + np.array([0.0, sign * gap_m[f] / 2, 0.0])
            roots[f, 3:] = quat
        columns += [f"{name}/{j}" for j in robot.joint_names]
        columns += [f"{name}/{c}" for c in FREE_JOINT_COLUMNS]
        blocks += [q, roots]
    return RobotTrajectory(np.concatenate(blocks, axis=1), tuple(columns), fps,
                           (("left", left.name), ("right", right.name)), contacts=list(contacts))


def standing_humanoid(robot: RobotModel, seconds: float, base_pos: np.ndarray,
                      yaw: float = 0.0, wave: float = 0.1, fps: float = FPS,
                      prefix: str = "") -> tuple[list[str], np.ndarray]:
    """Columns and (T, J + 7) values of a humanoid standing at ``base_pos`` (root columns
    included) while its arms and fingers move slowly by ``wave`` of their ranges."""
    t = np.arange(int(round(seconds * fps))) / fps
    q = np.tile(open_pose(robot), (len(t), 1))
    for j, name in enumerate(robot.joint_names):
        if "leg" in name or "ankle" in name or "knee" in name or "hip" in name:
            continue
        span = robot.upper[j] - robot.lower[j]
        if not np.isfinite(span):
            continue
        centre = np.clip(0.0, robot.lower[j], robot.upper[j])
        if "shoulder_roll" in name:  # arms slightly away from the body, hands clear of the legs
            centre = np.clip(0.35 if robot.upper[j] > abs(robot.lower[j]) else -0.35,
                             robot.lower[j], robot.upper[j])
        q[:, j] = np.clip(centre + wave * span * 0.5 * np.sin(2 * np.pi * 0.3 * t + 0.7 * j),
                          robot.lower[j], robot.upper[j])
    q = apply_mimic(robot, q)
    roots = np.zeros((len(t), 7))
    roots[:, :3] = base_pos
    roots[:, 3:] = [math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)]
    columns = [prefix + j for j in robot.joint_names] + [prefix + c for c in FREE_JOINT_COLUMNS]
    return columns, np.concatenate([q, roots], axis=1)
