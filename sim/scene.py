"""Scenes for the sim gate: one or more registry robots on a floor, driven by position servos.

Layouts (chosen from the trajectory's instances): ``hand`` (one hand), ``two_hands``,
``humanoid`` (one humanoid with hands), ``duet`` (two humanoids facing each other) and ``multi``
(anything else). Each instance hangs under a base body of its own:

- a trajectory with root columns (``[prefix]root_x .. root_qz``) drives that base kinematically
  as a MuJoCo mocap body: the humanoid's free joint is removed, so balance is out of scope and
  the floating base simply follows the retargeted pelvis;
- without root columns the base stays at a default placement (hands side by side in the air,
  humanoids on the floor facing each other).

Every commanded joint that is not a mimic follower gets a servo made of two actuators: a
position actuator (``kp``, commanded position) and a velocity actuator (``kv``, commanded
velocity), i.e. a feed-forward PD servo, plus a motor that takes the commanded motion's inverse-dynamics
torque (``sim/feedforward.py``; ``simulation.servo_feedforward``). Gains come from each joint's
largest effective inertia over the rest pose and a fixed sample of poses within the joint
limits (``kp = I w^2``, ``kv = 2 z I w``; capped where the lightest pose would ring too fast
for the physics step, ``SERVO_STABLE_STEP``), so every robot tracks with about the same
bandwidth in any pose, whatever its XML's own (often RL-tuned) actuators said, as fixed gains
tuned for the worst case do on a real robot. The rest pose alone underestimates the axial
joints: a GR1's shoulder yaw carries 0.009 kg m^2 with the arm hanging and 0.1-0.26 with the
elbow bent, so gains from the rest pose left it a 1 Hz servo that overshot and rang for a second
after every wave. Gravity is compensated through the actuators, so the
gravity load counts against force limits. The model's own actuators are removed; their force
ranges become the joints' force limits.

The compensation is exact (every body's ``gravcomp`` is 1), so the scene simulates with neither
gravity nor its compensation: the same motion to rounding, without the compensation's extra
recursive Newton-Euler pass per step (a fifth of a humanoid's step). The load the actuators
carry is added to the recorded forces frame by frame (``sim/gravity_load.py``).

Contact forces are simulated only for trajectories that declare contacts (a clap, a
handshake): there they are what the touch costs the servos and what stops a hand at its
partner's. A trajectory that declares none plays in ``contact_free_model`` (no geoms, no
collision detection per step; a humanoid steps 1.4x faster): any contact it makes is a
violation, and the checks find it on the recorded frames in the full model, at the depth the
command drives it to rather than the depth the contact solver would let it reach.
"""

from __future__ import annotations

import copy
import fnmatch
import math
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dyad.errors import DyadInputError
from dyad.retarget.robot_model import RobotModel
from dyad.retarget.trajectory import FREE_JOINT_COLUMNS, RobotTrajectory

from .thresholds import Thresholds, ThresholdsError, default_thresholds

LAYOUTS = ("hand", "two_hands", "humanoid", "duet", "multi")
BASE_BODY = "dyad_base"
FLOOR_GEOM = "floor"
# Collision bit of the floor: only geoms that have it in their conaffinity touch the floor, so
# the feet (whose floor contacts nothing judges) never generate contacts there.
FLOOR_BIT = 1 << 30


class SceneError(DyadInputError):
    """A trajectory does not fit its robots (joint names, root columns, instances)."""


@dataclass
class SceneInstance:
    """One robot instance in a scene.

    Attributes:
        name: instance name (the trajectory's; the robot name for a single instance).
        robot: the registry model.
        prefix: name prefix of its elements (bodies, joints) in the scene: ``"<name>/"``.
        columns: (J_i,) trajectory column names of its joints, robot order (no prefix for a
            single instance, ``"<name>/"`` for several).
        root_columns: the 7 root column names, or () when its base is fixed.
        base_body: id of its base body (the mocap body when driven).
        mocap_index: its row in ``data.mocap_pos`` (every base is a mocap body), -1 if none.
        default_base_pos, default_base_quat: the base placement without root columns.
        body_ids: ids of its bodies.
    """

    name: str
    robot: RobotModel
    prefix: str
    columns: tuple[str, ...]
    root_columns: tuple[str, ...]
    base_body: int = -1
    mocap_index: int = -1
    default_base_pos: np.ndarray = field(default_factory=lambda: np.zeros(3))
    default_base_quat: np.ndarray = field(default_factory=lambda: np.array([1.0, 0, 0, 0]))
    body_ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))

    @property
    def driven(self) -> bool:
        return bool(self.root_columns)

    def unprefixed(self, name: str) -> str:
        return name[len(self.prefix):] if self.prefix and name.startswith(self.prefix) else name


@dataclass
class Scene:
    """A compiled MuJoCo scene plus the tables the playback and the checks need.

    Joint arrays are in the scene's canonical column order: instances in trajectory order, each
    instance's joints in robot order (``joint_names``).

    Attributes:
        model: the compiled ``mujoco.MjModel``.
        layout: one of ``LAYOUTS``.
        instances: the robot instances.
        fps: frames per second the scene was built for.
        substeps: physics steps per frame of ``contact_free_model``.
        contact_substeps: physics steps per frame of ``model``, which simulates contact
            forces and needs a finer step (``simulation.contact_max_timestep_s``); see
            :meth:`substeps_of`.
        joint_names: (J,) column names (``A/r_elbow`` or ``r_elbow``).
        joint_instance: (J,) index into ``instances``.
        qpos_adr, dof_adr: (J,) addresses in ``qpos`` / ``qvel``.
        slide: (J,) True for prismatic joints (metres), False for hinges (radians).
        lower, upper: (J,) position limits.
        actuated: (J,) False for mimic followers (moved by their leader, no servo).
        pos_actuator, vel_actuator, ff_actuator: (J,) actuator ids (position servo, velocity
            servo, feed-forward motor), -1 for followers.
        inverse_dynamics_feedforward: the servos get the commanded motion's inverse-dynamics
            torque through ``ff_actuator`` (``sim/feedforward.py``).
        force_limit: (J,) newton-metres / newtons, nan where the robot states none.
        velocity_limit, acceleration_limit: (J,).
        kp, kv: (J,) servo gains (0 for followers).
        body_instance: (nbody,) instance index of each body, -1 for the world and the floor.
        floor_geom: id of the floor plane, -1 without a floor.
        floor_bodies: ids of bodies allowed to touch the floor (feet).
        rest_contacts: body-id pairs (low, high) touching in the rest pose, exempt from checks.
        sensor_adr: (J,) address in ``sensordata`` of each joint's actuator-force sensor, -1
            for followers.
        gravity: (3,) gravity (m/s^2, world frame) the robots are loaded with.
        gravity_offloaded: True when ``model`` simulates without gravity because the servos
            compensate it exactly; recorded forces then get the gravity load added.
        contact_free_model: the same robots without any geom (same bodies, inertias, joints,
            actuators and state layout), simulated for trajectories that declare no contact.
    """

    model: object
    layout: str
    instances: tuple[SceneInstance, ...]
    fps: float
    substeps: int
    contact_substeps: int
    joint_names: tuple[str, ...]
    joint_instance: np.ndarray
    qpos_adr: np.ndarray
    dof_adr: np.ndarray
    slide: np.ndarray
    lower: np.ndarray
    upper: np.ndarray
    actuated: np.ndarray
    pos_actuator: np.ndarray
    vel_actuator: np.ndarray
    ff_actuator: np.ndarray
    inverse_dynamics_feedforward: bool
    force_limit: np.ndarray
    velocity_limit: np.ndarray
    acceleration_limit: np.ndarray
    kp: np.ndarray
    kv: np.ndarray
    body_instance: np.ndarray
    floor_geom: int
    floor_bodies: frozenset[int]
    rest_contacts: frozenset[tuple[int, int]]
    sensor_adr: np.ndarray
    thresholds_digest: str = ""
    gravity: np.ndarray = field(default_factory=lambda: np.array([0.0, 0.0, -9.81]))
    gravity_offloaded: bool = False
    contact_free_model: object = None

    def physics_model(self, contacts: bool):
        """The model to simulate in: ``model``, or ``contact_free_model`` for a trajectory
        that declares no contact (see the module doc)."""
        return self.model if contacts or self.contact_free_model is None \
            else self.contact_free_model

    def substeps_of(self, model) -> int:
        """Physics steps per frame of ``model`` (``model`` or ``contact_free_model``)."""
        return max(1, round(1.0 / (self.fps * float(model.opt.timestep))))

    @property
    def frame_dt(self) -> float:
        return 1.0 / self.fps

    @property
    def num_joints(self) -> int:
        return len(self.joint_names)

    @property
    def root_columns(self) -> tuple[str, ...]:
        return tuple(c for inst in self.instances for c in inst.root_columns)

    def body_name(self, body_id: int) -> str:
        import mujoco

        return mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_BODY, int(body_id)) or \
            f"body{body_id}"

    def column_order(self, trajectory: RobotTrajectory) -> tuple[np.ndarray, np.ndarray]:
        """Indices of the scene's joint and root columns in ``trajectory.qpos``.

        Returns:
            (J,) joint column indices and (R,) root column indices (R = 7 x driven instances).
        """
        where = {name: i for i, name in enumerate(trajectory.joint_names)}
        joints = np.array([where[n] for n in self.joint_names], dtype=int)
        roots = np.array([where[n] for n in self.root_columns], dtype=int)
        return joints, roots


# ----------------------------------------------------------------------------- layout


def instance_prefix(instances: Sequence[tuple[str, str]], name: str) -> str:
    """Column / element prefix of instance ``name``: none for a single instance, else ``name/``."""
    return "" if len(instances) == 1 else f"{name}/"


def choose_layout(robots: Sequence[RobotModel]) -> str:
    """``hand``, ``two_hands``, ``humanoid``, ``duet`` or ``multi`` from the robots' kinds."""
    humanoid = [r.floating_base for r in robots]
    if len(robots) == 1:
        return "humanoid" if humanoid[0] else "hand"
    if len(robots) == 2 and not any(humanoid):
        return "two_hands"
    if len(robots) == 2 and all(humanoid):
        return "duet"
    return "multi"


def _yaw_quat(yaw: float) -> np.ndarray:
    return np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])


def _default_placements(layout: str, robots: Sequence[RobotModel], sim: dict
                        ) -> list[tuple[np.ndarray, np.ndarray]]:
    out = []
    n = len(robots)
    for k, robot in enumerate(robots):
        if robot.floating_base:
            if layout == "duet":
                x = (-0.5 if k == 0 else 0.5) * sim["duet_distance_m"]
                out.append((np.array([x, 0.0, 0.0]), _yaw_quat(0.0 if k == 0 else math.pi)))
            else:
                out.append((np.array([0.0, 1.5 * k, 0.0]), _yaw_quat(0.0)))
            continue
        side = next(iter(robot.hands), "right")
        if n == 1:
            y = 0.0
        elif layout == "two_hands":
            y = 0.5 * sim["two_hands_separation_m"] * (1.0 if side == "left" else -1.0)
        else:
            y = sim["two_hands_separation_m"] * (k - (n - 1) / 2)
        out.append((np.array([0.0, y, sim["hand_height_m"]]), _yaw_quat(0.0)))
    return out


def check_columns(trajectory: RobotTrajectory, robots: Sequence[RobotModel]
                  ) -> list[tuple[tuple[str, ...], tuple[str, ...]]]:
    """Match the trajectory's columns to its robots; per instance (joint columns, root columns).

    Raises:
        SceneError: a missing or unknown column, a partial root, naming the columns.
    """
    names = set(trajectory.joint_names)
    used: set[str] = set()
    out = []
    for (inst, robot_name), robot in zip(trajectory.instances, robots):
        prefix = instance_prefix(trajectory.instances, inst)
        joints = tuple(prefix + j for j in robot.joint_names)
        missing = [j for j in joints if j not in names]
        if missing:
            more = f" (and {len(missing) - 5} more)" if len(missing) > 5 else ""
            raise SceneError(f"trajectory lacks joints of robot {robot_name!r}"
                             f"{' instance ' + repr(inst) if prefix else ''}: "
                             f"{', '.join(missing[:5])}{more}; expected columns "
                             f"{', '.join(joints[:4])}, ...")
        roots = tuple(prefix + c for c in FREE_JOINT_COLUMNS)
        present = [c for c in roots if c in names]
        if present and len(present) != len(roots):
            raise SceneError(f"instance {inst!r} has root columns {present} but needs all of "
                             f"{list(roots)}")
        used.update(joints)
        used.update(present)
        out.append((joints, tuple(present)))
    unknown = [n for n in trajectory.joint_names if n not in used]
    if unknown:
        known = ", ".join(f"{i} ({r})" for i, r in trajectory.instances)
        raise SceneError(f"trajectory columns {unknown[:5]} match no joint of its robots "
                         f"({known}); multi-instance columns are named 'INSTANCE/joint'")
    return out


# ----------------------------------------------------------------------------- building


def _limited(flag, value_range, mujoco) -> bool:
    if flag == mujoco.mjtLimited.mjLIMITED_TRUE:
        return True
    return flag == mujoco.mjtLimited.mjLIMITED_AUTO and (value_range[0] != 0 or value_range[1] != 0)


def _model_force_limits(spec, mujoco) -> dict[str, float]:
    """Joint name -> torque (force) limit stated by the robot's own model.

    Sources: an actuator's force range (times its gear), a motor's gain x control range (times
    its gear), a joint's ``actuatorfrcrange``; the smallest wins.
    """
    limits: dict[str, float] = {}

    def add(joint: str, value: float) -> None:
        if value > 0:
            limits[joint] = min(value, limits.get(joint, np.inf))

    for act in spec.actuators:
        if act.trntype != mujoco.mjtTrn.mjTRN_JOINT or not act.target:
            continue
        gear = abs(float(act.gear[0])) or 1.0
        if _limited(act.forcelimited, act.forcerange, mujoco):
            add(act.target, gear * max(abs(act.forcerange[0]), abs(act.forcerange[1])))
        is_motor = (act.biastype == mujoco.mjtBias.mjBIAS_NONE
                    and act.gaintype == mujoco.mjtGain.mjGAIN_FIXED)
        if is_motor and _limited(act.ctrllimited, act.ctrlrange, mujoco):
            add(act.target, gear * abs(act.gainprm[0])
                * max(abs(act.ctrlrange[0]), abs(act.ctrlrange[1])))
    for joint in spec.joints:
        if _limited(joint.actfrclimited, joint.actfrcrange, mujoco):
            add(joint.name, max(abs(joint.actfrcrange[0]), abs(joint.actfrcrange[1])))
    return limits


def _prepare_robot(robot: RobotModel, sim: dict, mujoco):
    """The robot's spec with actuators, sensors and keys removed and the free joint dropped."""
    spec = mujoco.MjSpec.from_string(robot.model_xml)
    force_limits = _model_force_limits(spec, mujoco)
    for element in list(spec.actuators) + list(spec.sensors) + list(spec.keys):
        spec.delete(element)
    free_body_pose = None
    for joint in list(spec.joints):
        if joint.type == mujoco.mjtJoint.mjJNT_FREE:
            body = joint.parent
            free_body_pose = (np.array(body.pos, dtype=float), np.array(body.quat, dtype=float))
            body.pos = [0.0, 0.0, 0.0]
            body.quat = [1.0, 0.0, 0.0, 0.0]
            spec.delete(joint)
    followers = {f for f, _, _, _ in robot.mimic}
    for joint in spec.joints:
        joint.armature = max(float(joint.armature), float(sim["min_armature"]))
        if sim["gravity_compensation"] and joint.name in robot.joint_names \
                and joint.name not in followers:
            joint.actgravcomp = True
    if sim["gravity_compensation"]:
        for body in spec.bodies:
            if body != spec.worldbody:
                body.gravcomp = 1.0
    return spec, force_limits, free_body_pose


def _floor_height_offset(model, data, mujoco, base_body: int) -> float:
    """How far to raise a humanoid so its lowest collision geom rests on z = 0."""
    mujoco.mj_forward(model, data)
    lowest = np.inf
    for g in range(model.ngeom):
        if model.body_rootid[model.geom_bodyid[g]] != base_body:
            continue
        if not (model.geom_contype[g] or model.geom_conaffinity[g]):
            continue
        lowest = min(lowest, data.geom_xpos[g][2] - model.geom_rbound[g])
    return 0.0 if not np.isfinite(lowest) else -lowest


def _strip_geometry(spec) -> None:
    """Delete every geom, explicit contact pair and visual asset (the contact-free model)."""
    for pair in list(spec.pairs):
        spec.delete(pair)
    for geom in list(spec.geoms):
        spec.delete(geom)
    for site in spec.sites:
        site.material = ""
    for kind in ("skins", "meshes", "hfields", "materials", "textures"):
        for element in list(getattr(spec, kind)):
            spec.delete(element)


def _assemble_world(instances: Sequence[tuple[str, RobotModel]], placements, servos,
                    sim: dict, layout: str, timestep: float, mujoco, skeleton: bool = False,
                    feet: Sequence[str] | None = None):
    """The scene's ``MjSpec``: floor and light, one mocap base per instance with its robot
    attached (elements prefixed ``<instance>/``), and per servoed joint a position and a
    velocity actuator and an actuator-force sensor.

    Args:
        instances: (instance name, robot) pairs.
        placements: per instance (position, quaternion) of its base.
        servos: (scene joint name, is a mimic follower) per commanded joint; followers get no
            actuators.
        sim: the thresholds' ``simulation`` section.
        layout, timestep: the scene's layout name and physics step (s).
        skeleton: leave every geom out (no floor either): the contact-free physics model.
        feet: body-name patterns (instance prefix removed) of the bodies allowed on the floor;
            their geoms and the floor do not collide at all (``FLOOR_BIT``). None: they do.

    Returns:
        (spec, per instance the robot's own force limits by joint name).
    """
    world = mujoco.MjSpec()
    world.modelname = "dyad_" + layout + ("_contact_free" if skeleton else "")
    world.option.timestep = timestep
    world.option.integrator = getattr(mujoco.mjtIntegrator,
                                      f"mjINT_{str(sim['integrator']).upper()}")
    world.visual.global_.offwidth = 1920
    world.visual.global_.offheight = 1080
    world.stat.center = [0.0, 0.0, 0.8]
    world.stat.extent = 2.0
    if sim["floor"] and not skeleton:
        bits = FLOOR_BIT if feet is not None else 1
        world.worldbody.add_geom(name=FLOOR_GEOM, type=mujoco.mjtGeom.mjGEOM_PLANE,
                                 size=[0, 0, 0.05], rgba=[0.82, 0.84, 0.86, 1],
                                 contype=bits, conaffinity=bits)
    world.worldbody.add_light(pos=[0, 0, 3.5], dir=[0, 0, -1], diffuse=[0.7, 0.7, 0.7])
    force_tables: list[dict[str, float]] = []
    for (name, robot), (pos, quat) in zip(instances, placements):
        element_prefix = f"{name}/"  # MuJoCo wants a prefix even for a single instance
        spec, force_limits, _ = _prepare_robot(robot, sim, mujoco)
        if skeleton:
            _strip_geometry(spec)
        force_tables.append(force_limits)
        base = world.worldbody.add_body(name=element_prefix + BASE_BODY, pos=pos.tolist(),
                                        quat=quat.tolist(), mocap=True)
        world.attach(spec, prefix=element_prefix, frame=base.add_frame())
        if feet is not None and not skeleton:
            for geom in base.find_all(mujoco.mjtObj.mjOBJ_GEOM):
                body = geom.parent.name[len(element_prefix):]
                if (geom.contype or geom.conaffinity) and \
                        not any(fnmatch.fnmatchcase(body, p) for p in feet):
                    geom.conaffinity = int(geom.conaffinity) | FLOOR_BIT
    for target, follower in servos:
        if follower:
            continue
        world.add_actuator(name=f"{target}:pos", target=target,
                           trntype=mujoco.mjtTrn.mjTRN_JOINT,
                           gaintype=mujoco.mjtGain.mjGAIN_FIXED,
                           biastype=mujoco.mjtBias.mjBIAS_AFFINE,
                           gainprm=[1.0] + [0.0] * 9, biasprm=[0.0, -1.0] + [0.0] * 8)
        world.add_actuator(name=f"{target}:vel", target=target,
                           trntype=mujoco.mjtTrn.mjTRN_JOINT,
                           gaintype=mujoco.mjtGain.mjGAIN_FIXED,
                           biastype=mujoco.mjtBias.mjBIAS_AFFINE,
                           gainprm=[1.0] + [0.0] * 9, biasprm=[0.0, 0.0, -1.0] + [0.0] * 7)
        # Feed-forward torque (sim/feedforward.py); zero unless the thresholds enable it.
        world.add_actuator(name=f"{target}:ff", target=target,
                           trntype=mujoco.mjtTrn.mjTRN_JOINT,
                           gaintype=mujoco.mjtGain.mjGAIN_FIXED,
                           gainprm=[1.0] + [0.0] * 9)
        world.add_sensor(name=f"{target}:force", type=mujoco.mjtSensor.mjSENS_JOINTACTFRC,
                         objtype=mujoco.mjtObj.mjOBJ_JOINT, objname=target)
    return world, force_tables


def build_scene(instances: Sequence[tuple[str, RobotModel]], fps: float,
                thresholds: Thresholds | None = None,
                driven: Sequence[bool] | None = None) -> Scene:
    """Compose and compile a scene.

    Args:
        instances: (instance name, robot model) pairs, trajectory order.
        fps: frame rate of the trajectories it will play.
        thresholds: simulation settings and limits (defaults when None).
        driven: per instance, whether root columns drive its base (default: floating-base robots).
    """
    import mujoco

    thresholds = thresholds or default_thresholds()
    sim = thresholds["simulation"]
    robots = [r for _, r in instances]
    driven = list(driven) if driven is not None else [r.floating_base for r in robots]
    pairs = tuple((n, r.name) for n, r in instances)
    layout = choose_layout(robots)
    substeps = max(1, math.ceil((1.0 / fps) / float(sim["max_timestep_s"]) - 1e-9))
    contact_substeps = max(substeps, math.ceil(
        (1.0 / fps) / float(sim["contact_max_timestep_s"]) - 1e-9))
    placements = _default_placements(layout, robots, sim)

    scene_instances: list[SceneInstance] = []
    for k, (name, robot) in enumerate(instances):
        prefix = instance_prefix(pairs, name)
        pos, quat = placements[k]
        columns = tuple(prefix + j for j in robot.joint_names)
        roots = tuple(prefix + c for c in FREE_JOINT_COLUMNS) if driven[k] else ()
        scene_instances.append(SceneInstance(name, robot, f"{name}/", columns, roots,
                                             default_base_pos=pos.copy(),
                                             default_base_quat=quat.copy()))
    # Every joint gets its servo pair; gains are set after compiling (they need inertias).
    joint_names: list[str] = []        # trajectory columns
    model_joints: list[str] = []       # the same joints' names in the scene
    follower_flags: list[bool] = []
    for inst in scene_instances:
        followers = {f for f, _, _, _ in inst.robot.mimic}
        for joint, col in zip(inst.robot.joint_names, inst.columns):
            joint_names.append(col)
            model_joints.append(inst.prefix + joint)
            follower_flags.append(joint in followers)
    servos = list(zip(model_joints, follower_flags))
    timestep = (1.0 / fps) / substeps
    contact_timestep = (1.0 / fps) / contact_substeps
    # Feet on the floor are judged by nothing (balance is out of scope) unless their landing
    # speed is checked: then they need their floor contacts.
    feet = None if thresholds["approach"]["floor_too"] else \
        list(thresholds["collision"]["floor_contact_bodies"])
    world, force_tables = _assemble_world(instances, placements, servos, sim, layout,
                                          contact_timestep, mujoco, feet=feet)
    try:
        model = world.compile()
    except ValueError as exc:
        raise SceneError(f"cannot build the {layout} scene for "
                         f"{', '.join(r.name for r in robots)}: {exc}") from None
    data = mujoco.MjData(model)

    # Bodies per instance (every body's root is its instance's base), mocap rows, placements.
    body_instance = np.full(model.nbody, -1, dtype=int)
    for k, inst in enumerate(scene_instances):
        inst.base_body = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY,
                                           inst.prefix + BASE_BODY)
        inst.mocap_index = int(model.body_mocapid[inst.base_body])
        inst.body_ids = np.flatnonzero(model.body_rootid == inst.base_body)
        body_instance[inst.body_ids] = k
    # Humanoids on their default placement stand on the floor.
    for inst in scene_instances:
        if inst.robot.floating_base and sim["floor"]:
            lift = _floor_height_offset(model, data, mujoco, inst.base_body)
            inst.default_base_pos = inst.default_base_pos + np.array([0.0, 0.0, lift])
        model.body_pos[inst.base_body] = inst.default_base_pos
        model.body_quat[inst.base_body] = inst.default_base_quat
        data.mocap_pos[inst.mocap_index] = inst.default_base_pos
        data.mocap_quat[inst.mocap_index] = inst.default_base_quat

    jid = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_JOINT, n) for n in model_joints])
    qpos_adr = model.jnt_qposadr[jid].astype(int)
    dof_adr = model.jnt_dofadr[jid].astype(int)
    slide = model.jnt_type[jid] == mujoco.mjtJoint.mjJNT_SLIDE
    joint_instance = np.concatenate([np.full(len(inst.columns), k, dtype=int)
                                     for k, inst in enumerate(scene_instances)])
    lower = np.concatenate([np.asarray(inst.robot.lower, float) for inst in scene_instances])
    upper = np.concatenate([np.asarray(inst.robot.upper, float) for inst in scene_instances])
    actuated = ~np.array(follower_flags, dtype=bool)
    pos_act = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"{n}:pos")
                        for n in model_joints])
    vel_act = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"{n}:vel")
                        for n in model_joints])
    ff_act = np.array([mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_ACTUATOR, f"{n}:ff")
                       for n in model_joints])
    sensor_adr = np.array([model.sensor_adr[s] if s >= 0 else -1 for s in (
        mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_SENSOR, f"{n}:force")
        for n in model_joints)])

    # Couplings (mimic joints) as stiff as the step allows: real linkages are rigid.
    _with_step(model, contact_timestep, mujoco)

    # Servo gains from the largest effective inertia over the rest pose and sampled poses,
    # capped where the stiffness would make the joint's lightest pose ring faster than the
    # physics step integrates stably (the stiffness is integrated explicitly). The cap is set
    # by the coarser contact-free step, so both models carry the same servos.
    rest = rest_qpos(model)
    omega = 2.0 * math.pi * float(sim["servo_bandwidth_hz"])
    largest, smallest = servo_inertia(model, data, rest)
    ceiling = smallest * (SERVO_STABLE_STEP / (omega * timestep)) ** 2
    inertia = np.minimum(largest, ceiling)[dof_adr]
    data.qpos[:] = rest
    mujoco.mj_forward(model, data)
    zeta = float(sim["servo_damping_ratio"])
    passive_damping = model.dof_damping[dof_adr]
    # Inertia-dominated joints get a critically damped PD of bandwidth w; joints whose own
    # damping already exceeds that (many hand XMLs) get kp = (damping + kv) w, a first-order
    # response of the same bandwidth. The velocity feed-forward also cancels the joint's damping.
    kv = np.where(actuated, np.maximum(0.0, 2.0 * zeta * inertia * omega - passive_damping), 0.0)
    kp = np.where(actuated, np.maximum(inertia * omega ** 2, (passive_damping + kv) * omega), 0.0)
    for j in np.flatnonzero(actuated):
        model.actuator_gainprm[pos_act[j], 0] = kp[j]
        model.actuator_biasprm[pos_act[j], 1] = -kp[j]
        model.actuator_gainprm[vel_act[j], 0] = kv[j] + passive_damping[j]
        model.actuator_biasprm[vel_act[j], 2] = -kv[j]

    # Limits: force from the model (or the thresholds' robot entry), velocity/acceleration from
    # the thresholds (MJCF carries none).
    force_limit = np.full(len(joint_names), np.nan)
    velocity_limit = np.empty(len(joint_names))
    acceleration_limit = np.empty(len(joint_names))
    start = 0
    for k, inst in enumerate(scene_instances):
        own = list(inst.robot.joint_names)
        stop = start + len(own)
        velocity_limit[start:stop] = thresholds.joint_limits(inst.robot.name, own,
                                                             slide[start:stop], "velocity")
        acceleration_limit[start:stop] = thresholds.joint_limits(
            inst.robot.name, own, slide[start:stop], "acceleration")
        for i, joint in enumerate(own):
            value = thresholds.robot_limit(inst.robot.name, "force", joint)
            if value is None:
                value = force_tables[k].get(joint)
            if value is not None and actuated[start + i]:
                force_limit[start + i] = value
        start = stop

    floor_geom = (mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_GEOM, FLOOR_GEOM)
                  if sim["floor"] else -1)
    patterns = list(thresholds["collision"]["floor_contact_bodies"])
    floor_bodies = set()
    for k, inst in enumerate(scene_instances):
        for b in inst.body_ids:
            short = inst.unprefixed(mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_BODY, b) or "")
            if any(fnmatch.fnmatchcase(short, p) for p in patterns):
                floor_bodies.add(int(b))
    scene = Scene(
        model=model, layout=layout, instances=tuple(scene_instances), fps=float(fps),
        substeps=substeps, contact_substeps=contact_substeps,
        joint_names=tuple(joint_names), joint_instance=joint_instance,
        qpos_adr=qpos_adr, dof_adr=dof_adr, slide=slide, lower=lower, upper=upper,
        actuated=actuated, pos_actuator=pos_act, vel_actuator=vel_act, ff_actuator=ff_act,
        inverse_dynamics_feedforward=_feedforward_choice(sim) == "inverse_dynamics",
        force_limit=force_limit,
        velocity_limit=velocity_limit, acceleration_limit=acceleration_limit, kp=kp, kv=kv,
        body_instance=body_instance, floor_geom=floor_geom, floor_bodies=frozenset(floor_bodies),
        rest_contacts=frozenset(), sensor_adr=sensor_adr, thresholds_digest=thresholds.digest)
    if thresholds["collision"]["ignore_rest_contacts"]:
        scene.rest_contacts = frozenset(_rest_contacts(scene, rest))
    scene.gravity = model.opt.gravity.copy()
    if sim["gravity_compensation"]:
        # Gravity and its exact compensation cancel: simulate with neither (see module doc).
        model.opt.gravity[:] = 0.0
        model.body_gravcomp[:] = 0.0
        model.jnt_actgravcomp[:] = 0
        scene.gravity_offloaded = True
    scene.contact_free_model = _contact_free_model(model, instances, placements, servos, sim,
                                                   layout, timestep, mujoco)
    return scene


# Arrays build_scene sets on the compiled model; the contact-free model takes them over.
_RUNTIME_ARRAYS = ("actuator_gainprm", "actuator_biasprm", "eq_solref", "body_pos", "body_quat",
                   "body_gravcomp", "jnt_actgravcomp")


def _same_structure(a, b, mujoco) -> bool:
    sizes = ("nq", "nv", "nu", "na", "nbody", "njnt", "nmocap", "neq", "nsensordata")
    if any(getattr(a, n) != getattr(b, n) for n in sizes):
        return False
    obj = mujoco.mjtObj
    return all(mujoco.mj_id2name(a, kind, i) == mujoco.mj_id2name(b, kind, i)
               for kind, count in ((obj.mjOBJ_BODY, a.nbody), (obj.mjOBJ_JOINT, a.njnt),
                                   (obj.mjOBJ_ACTUATOR, a.nu))
               for i in range(count))


def _contact_free_model(model, instances, placements, servos, sim: dict, layout: str,
                        timestep: float, mujoco):
    """The scene without geoms, for trajectories that declare no contact (see ``Scene``).

    Bodies keep the full model's compiled masses and inertias (written as explicit inertials:
    many hand bodies take theirs from their meshes), so the two simulate alike to rounding
    while no contact occurs. Should a robot not compile without its geoms (a tendon wrapping
    one), a copy of the full model with contacts disabled serves instead.
    """
    world, _ = _assemble_world(instances, placements, servos, sim, layout, timestep, mujoco,
                               skeleton=True)
    lean = None
    bodies = [(body, mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body.name))
              for body in world.bodies if body != world.worldbody]
    if all(b >= 0 for _, b in bodies):
        for body, b in bodies:
            body.mass = float(model.body_mass[b])
            body.ipos = model.body_ipos[b].tolist()
            body.iquat = model.body_iquat[b].tolist()
            body.inertia = model.body_inertia[b].tolist()
            body.explicitinertial = True
        try:
            lean = world.compile()
        except ValueError:
            lean = None
    if lean is None or not _same_structure(lean, model, mujoco):
        lean = copy.copy(model)  # MjModel copies are deep
        lean.opt.disableflags |= int(mujoco.mjtDisableBit.mjDSBL_CONTACT)
        return _with_step(lean, timestep, mujoco)
    for name in _RUNTIME_ARRAYS:
        getattr(lean, name)[:] = getattr(model, name)
    lean.opt.gravity[:] = model.opt.gravity
    return _with_step(lean, timestep, mujoco)


def _with_step(model, timestep: float, mujoco):
    """Set ``model``'s physics step, and its couplings as stiff as that step allows."""
    model.opt.timestep = timestep
    for e in range(model.neq):
        if model.eq_type[e] == mujoco.mjtEq.mjEQ_JOINT:
            model.eq_solref[e] = [2.0 * timestep, 1.0]
    return model


FEEDFORWARD_CHOICES = ("inverse_dynamics", "none")


def _feedforward_choice(sim: dict) -> str:
    value = sim["servo_feedforward"]
    if value not in FEEDFORWARD_CHOICES:
        raise ThresholdsError(f"simulation.servo_feedforward must be one of "
                              f"{', '.join(FEEDFORWARD_CHOICES)}, got {value!r}")
    return value


SERVO_INERTIA_POSES = 64
"""Poses sampled (uniformly within the joint limits, fixed seed) for the servo inertia."""


SERVO_STABLE_STEP = 1.5
"""Largest ``w dt`` a servo may reach in its lightest pose (``w = sqrt(kp / I)``; an explicitly
integrated spring diverges past 2). Caps the GR1 shoulder yaw's servo inertia at ~23x its
hanging-arm figure: a high five's stiff contacts made the uncapped gains blow up."""


def servo_inertia(model, data, rest: np.ndarray, poses: int = SERVO_INERTIA_POSES,
                  seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(nv,) largest and (nv,) smallest diagonal of the joint-space inertia matrix over
    ``rest`` and ``poses`` configurations with every limited hinge and slide drawn uniformly
    in its range (free joints stay at rest). Deterministic: the same model gives the same
    gains. Leaves ``data`` posed at the last sample."""
    import mujoco

    rng = np.random.default_rng(seed)
    limited = _limited_joints(model)
    adr = np.array([model.jnt_qposadr[j] for j in limited], dtype=int)
    lo, hi = (model.jnt_range[limited].T if limited else (np.zeros(0), np.zeros(0)))
    full = np.zeros((model.nv, model.nv))
    largest, smallest = np.zeros(model.nv), np.full(model.nv, np.inf)
    for k in range(poses + 1):
        data.qpos[:] = rest
        if k > 0:
            data.qpos[adr] = rng.uniform(lo, hi)
        mujoco.mj_forward(model, data)
        mujoco.mj_fullM(model, data, full)
        largest = np.maximum(largest, np.diag(full))
        smallest = np.minimum(smallest, np.diag(full))
    return largest, smallest


def _limited_joints(model) -> list[int]:
    """Ids of the limited slide and hinge joints."""
    return [j for j in range(model.njnt) if model.jnt_limited[j] and model.jnt_type[j] in (2, 3)]


def rest_qpos(model) -> np.ndarray:
    """The model's ``qpos0`` with every limited joint clipped into its range."""
    q = model.qpos0.copy()
    for j in _limited_joints(model):
        adr = model.jnt_qposadr[j]
        q[adr] = np.clip(q[adr], *model.jnt_range[j])
    return q


def _rest_contacts(scene: Scene, rest: np.ndarray) -> set[tuple[int, int]]:
    """Body pairs of one instance that touch in the rest pose (by design, e.g. nested hulls)."""
    import mujoco

    model = scene.model
    data = mujoco.MjData(model)
    data.qpos[:] = rest
    for inst in scene.instances:
        data.mocap_pos[inst.mocap_index] = inst.default_base_pos
        data.mocap_quat[inst.mocap_index] = inst.default_base_quat
    mujoco.mj_kinematics(model, data)
    mujoco.mj_collision(model, data)
    out = set()
    for c in data.contact[:data.ncon]:
        b1, b2 = model.geom_bodyid[c.geom1], model.geom_bodyid[c.geom2]
        i1, i2 = scene.body_instance[b1], scene.body_instance[b2]
        if i1 >= 0 and i1 == i2:
            out.add((int(min(b1, b2)), int(max(b1, b2))))
    return out


# ----------------------------------------------------------------------------- cache

_CACHE: "OrderedDict[tuple, Scene]" = OrderedDict()
_CACHE_LOCK = threading.Lock()
_CACHE_SIZE = 8


def scene_for_trajectory(trajectory: RobotTrajectory, thresholds: Thresholds | None = None,
                         load_robot=None) -> Scene:
    """The scene that plays ``trajectory`` (built once per robot set, fps and thresholds).

    Args:
        trajectory: checked for matching joint names and root columns.
        thresholds: gate settings (defaults when None).
        load_robot: registry loader (``dyad.retarget.registry.load_robot`` when None).

    Raises:
        SceneError / UnknownRobotError: the trajectory does not fit a known robot.
    """
    if load_robot is None:
        from dyad.retarget.registry import load_robot
    thresholds = thresholds or default_thresholds()
    robots = [load_robot(robot) for _, robot in trajectory.instances]
    matched = check_columns(trajectory, robots)
    driven = tuple(bool(roots) for _, roots in matched)
    key = (tuple(trajectory.instances), tuple(id(r) for r in robots), float(trajectory.fps),
           driven, thresholds.digest)
    with _CACHE_LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    scene = build_scene([(name, r) for (name, _), r in zip(trajectory.instances, robots)],
                        trajectory.fps, thresholds, driven)
    with _CACHE_LOCK:
        _CACHE[key] = scene
        while len(_CACHE) > _CACHE_SIZE:
            _CACHE.popitem(last=False)
    return scene
