"""Robot model files: find them in installed packages, load and compose them with MuJoCo's
``MjSpec``, and build the Pinocchio model from the very MJCF text MuJoCo compiles.

One path serves every robot: MJCF or URDF file -> ``MjSpec`` (URDF goes through MuJoCo's own
importer, which turns ``<mimic>`` into joint equalities) -> optional edits (remove scaffolding,
attach hands, add fingertip sites, unique names) -> ``spec.to_xml()`` -> Pinocchio's MJCF parser.
Mesh and texture paths are made absolute first, so the XML text loads from any folder.

Heavy libraries (mujoco, pinocchio) are imported inside the functions that need them.
"""

from __future__ import annotations

import importlib.util
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dyad.errors import DyadInputError

FREE_JOINT_NAME = "floating_base"
"""Name given to an unnamed free joint, so MuJoCo and Pinocchio agree on it."""

# Couplings through a fixed tendon count as mimic joints when the tendon may only stretch this
# much (metres of tendon length); the Shadow hand couples its distal joints this way.
_COUPLING_TENDON_SLACK = 0.0015


class ModelLoadError(DyadInputError):
    """A robot model file is missing or does not load; names the file and the reason."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def package_dir(package: str) -> Path:
    """Folder of an installed package, found without importing it.

    Args:
        package: top-level import name, e.g. ``robosuite`` (never imported: its ``__init__``
            pulls in dependencies that Dyad does not install).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise ModelLoadError(
            package, f"Python package {package!r} is not installed; install it to use the "
            "robots whose model files it ships (see docs/robots.md)")
    return Path(list(spec.submodule_search_locations)[0])


def resolve_model_file(path: str, package: str | None = None,
                       base_dir: str | Path | None = None) -> Path:
    """Absolute path of a model file named by a robot config.

    Args:
        path: file path; inside ``package`` when given, else absolute, ``~``-prefixed, or
            relative to ``base_dir`` (the folder of the YAML that names it). ``$VARS`` expand.
        package: installed package that ships the file, or None.
        base_dir: folder that relative paths resolve against.
    """
    expanded = os.path.expanduser(os.path.expandvars(path))
    if package:
        full = package_dir(package) / expanded
    elif os.path.isabs(expanded) or base_dir is None:
        full = Path(expanded)
    else:
        full = Path(base_dir) / expanded
    full = full.resolve()
    if not full.is_file():
        where = f" in package {package!r}" if package else ""
        raise ModelLoadError(full, f"model file not found{where}")
    return full


def _absolutize_assets(spec, asset_dir: Path) -> None:
    """Rewrite mesh, texture, height-field and skin paths as absolute paths."""
    mesh_dir = asset_dir / (spec.meshdir or "")
    texture_dir = asset_dir / (spec.texturedir or "")
    for mesh in spec.meshes:
        if mesh.file:
            mesh.file = str((mesh_dir / mesh.file).resolve())
    for texture in spec.textures:
        if texture.file:
            texture.file = str((texture_dir / texture.file).resolve())
        if any(texture.cubefiles):
            texture.cubefiles = [str((texture_dir / f).resolve()) if f else ""
                                 for f in texture.cubefiles]
    for hfield in spec.hfields:
        if hfield.file:
            hfield.file = str((asset_dir / hfield.file).resolve())
    for skin in spec.skins:
        if skin.file:
            skin.file = str((asset_dir / skin.file).resolve())
    spec.meshdir = ""
    spec.texturedir = ""


def _urdf_with_mujoco_options(text: str, urdf_dir: Path) -> str:
    # Keep fixed-joint links as bodies (fingertip links are often fixed children) and keep full
    # mesh paths; visual-only meshes (often .glb/.dae, which MuJoCo cannot read) are dropped.
    options = (f'<mujoco><compiler meshdir="{urdf_dir}/" strippath="false" fusestatic="false" '
               'discardvisual="true" balanceinertia="true" autolimits="true"/></mujoco>')
    text = re.sub(r"<mujoco>.*?</mujoco>", "", text, flags=re.S)
    text = re.sub(r'filename="package://[^/"]+/', 'filename="', text)
    new, count = re.subn(r"(<robot\b[^>]*>)", lambda m: m.group(1) + options, text, count=1)
    if count == 0:
        raise ValueError("no <robot> element")
    return new


def load_spec(path: str | Path):
    """Parse an MJCF or URDF file into a ``mujoco.MjSpec`` with absolute asset paths.

    Args:
        path: the model file (``.xml`` MJCF or ``.urdf``).

    Raises:
        ModelLoadError: the file does not parse, naming it and MuJoCo's reason.
    """
    import mujoco

    path = Path(path)
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise ModelLoadError(path, f"cannot read model file: {exc}") from None
    try:
        if path.suffix.lower() == ".urdf" or re.search(r"<robot\b", text[:4000]):
            spec = mujoco.MjSpec.from_string(_urdf_with_mujoco_options(text, path.parent))
            spec.meshdir = ""  # paths below are already absolute
            for mesh in spec.meshes:
                mesh.file = str((path.parent / mesh.file).resolve())
        else:
            spec = mujoco.MjSpec.from_file(str(path))
            _absolutize_assets(spec, Path(spec.modelfiledir or path.parent))
    except Exception as exc:  # mujoco raises ValueError with the parser message
        raise ModelLoadError(path, f"MuJoCo cannot parse it: {exc}") from None
    return spec


def default_class_names(path: str | Path, _root: Path | None = None,
                        _seen: set[Path] | None = None) -> set[str]:
    """Names of the ``<default class=...>`` classes an MJCF file (and its includes) defines.

    ``MjSpec`` cannot list its default classes, so a model's classes are read from its files
    (a URDF has none). Included files are looked up beside the including file and beside the
    top-level file (MuJoCo resolves them against the latter).

    Args:
        path: the model file.
    """
    import xml.etree.ElementTree as ET

    path = Path(path).resolve()
    root_dir = _root or path.parent
    seen = set() if _seen is None else _seen
    if path in seen or not path.is_file():
        return set()
    seen.add(path)
    try:
        tree = ET.parse(path)
    except (ET.ParseError, OSError):
        return set()  # MuJoCo reports a broken file when it parses it
    names = {e.get("class") for e in tree.iter("default") if e.get("class")}
    for include in tree.iter("include"):
        file = include.get("file")
        if not file:
            continue
        for folder in (path.parent, root_dir):
            if (folder / file).is_file():
                names |= default_class_names(folder / file, root_dir, seen)
                break
    return names


_CLASSED_KINDS = ("bodies", "frames", "geoms", "joints", "sites", "cameras", "lights",
                  "actuators", "tendons", "equalities", "pairs", "meshes", "materials",
                  "textures", "hfields", "skins", "flexes")


def _classed_elements(spec):
    """Every element of ``spec`` that may carry a default class."""
    for kind in _CLASSED_KINDS:
        yield from getattr(spec, kind, ())


def used_class_names(spec) -> set[str]:
    """Default classes the elements of ``spec`` refer to (``class`` and ``childclass``)."""
    names = set()
    for element in _classed_elements(spec):
        default = getattr(element, "classname", None)
        if default is not None and default.name:
            names.add(default.name)
        if getattr(element, "childclass", ""):
            names.add(element.childclass)
    names.discard("main")
    return names


def rename_default_classes(child, parent, names, prefix: str) -> dict[str, str]:
    """Give the child's default classes names the parent does not use: ``prefix`` + name,
    prefixed again until free. Elements' class and ``childclass`` references follow.

    Two classes of one name in a composed spec make MuJoCo's writer bind the child's elements
    to the parent's class, or write XML its loader refuses ("repeated default class name").
    Renaming an ``MjsDefault`` does not update the class name its elements store (MuJoCo 4.0:
    ``to_xml`` then binds them to whatever class has the old name, or crashes when none has),
    so each element using a renamed class is pointed at it again.

    Args:
        child: the spec about to be attached (edited in place).
        parent: the spec it will be attached to.
        names: the child's class names (``default_class_names`` | ``used_class_names``).
        prefix: e.g. ``right_``.

    Returns:
        old name -> new name.
    """
    plan: dict[str, str] = {}
    for name in sorted(set(names) - {"main"}):
        if child.find_default(name) is None:
            continue
        new = prefix + name
        while (parent.find_default(new) is not None or child.find_default(new) is not None
               or new in plan.values()):
            new = prefix + new
        plan[name] = new
    if not plan:
        return plan
    # Read every element's class before renaming: afterwards the old names resolve to nothing.
    users = [(e, e.classname) for e in _classed_elements(child)
             if getattr(e, "classname", None) is not None and e.classname.name in plan]
    for old, new in plan.items():
        child.find_default(old).name = new
    for element, default in users:
        element.classname = default
    for element in _classed_elements(child):
        if getattr(element, "childclass", "") in plan:
            element.childclass = plan[element.childclass]
    return plan


def remove_elements(spec, bodies=(), sites=(), source: str = "") -> None:
    """Delete scaffolding bodies (with their subtrees) and sites, and what referred to them.

    Sensors on a removed body or site and contact excludes naming a removed body go too.

    Args:
        spec: the model to edit.
        bodies, sites: names to delete; a name that is missing raises ``ModelLoadError``.
        source: file named in errors.
    """
    import mujoco

    removed_sites, removed_bodies = set(sites), set()
    for name in bodies:
        body = spec.body(name)
        if body is None:
            raise ModelLoadError(source, f"cannot remove body {name!r}: no such body")
        removed_sites |= {s.name for s in body.find_all(mujoco.mjtObj.mjOBJ_SITE)}
        removed_bodies |= {name} | {b.name for b in body.find_all(mujoco.mjtObj.mjOBJ_BODY)}
        spec.delete(body)
    for name in sites:
        site = spec.site(name)
        if site is None:
            raise ModelLoadError(source, f"cannot remove site {name!r}: no such site")
        spec.delete(site)
    gone = {mujoco.mjtObj.mjOBJ_SITE: removed_sites, mujoco.mjtObj.mjOBJ_BODY: removed_bodies,
            mujoco.mjtObj.mjOBJ_XBODY: removed_bodies}
    for sensor in list(spec.sensors):
        if sensor.objname in gone.get(sensor.objtype, ()) or \
                sensor.refname in gone.get(sensor.reftype, ()):
            spec.delete(sensor)
    for exclude in list(spec.excludes):
        if exclude.bodyname1 in removed_bodies or exclude.bodyname2 in removed_bodies:
            spec.delete(exclude)


def name_unnamed_bodies(spec) -> None:
    """Give every unnamed body a stable name (``<parent>_frame<k>``): Pinocchio needs names."""
    for body in spec.bodies:
        if body.name or body == spec.worldbody:
            continue
        parent = body.parent
        siblings = [b for b in parent.bodies if not b.name]
        body.name = f"{parent.name or 'world'}_frame{siblings.index(body)}"


def name_free_joints(spec) -> None:
    """Name unnamed free joints ``floating_base`` (the first) so both engines share the name."""
    count = 0
    for joint in spec.joints:
        if joint.type == _free_type() and not joint.name:
            joint.name = FREE_JOINT_NAME if count == 0 else f"{FREE_JOINT_NAME}{count}"
            count += 1


def _free_type():
    import mujoco

    return mujoco.mjtJoint.mjJNT_FREE


def _element_names(spec) -> dict[str, list[str]]:
    return {
        "body": [b.name for b in spec.bodies if b.name],
        "joint": [j.name for j in spec.joints if j.name],
        "site": [s.name for s in spec.sites if s.name],
    }


def rename_frames(spec, bodies: dict[str, str] | None = None,
                  sites: dict[str, str] | None = None, source: str = "") -> None:
    """Rename bodies and sites and every reference to them.

    References follow: contact excludes, sensors (object and reference), equalities, actuator
    transmissions and their reference / slider sites, camera and light targets, skins.
    (Spatial tendons that wrap a renamed site are not visible through ``MjSpec``; MuJoCo then
    fails to compile and says which site.)

    Args:
        spec: the model to edit.
        bodies, sites: old name -> new name.
        source: file named in errors.
    """
    import mujoco

    bodies, sites = dict(bodies or {}), dict(sites or {})
    for kind, mapping in (("body", bodies), ("site", sites)):
        for old, new in mapping.items():
            element = spec.body(old) if kind == "body" else spec.site(old)
            if element is None:
                raise ModelLoadError(source, f"cannot rename {kind} {old!r}: no such {kind}")
            element.name = new
    obj = mujoco.mjtObj
    by_type = {obj.mjOBJ_BODY: bodies, obj.mjOBJ_XBODY: bodies, obj.mjOBJ_SITE: sites}

    def follow(name: str, objtype) -> str:
        return by_type.get(objtype, {}).get(name, name)

    for exclude in spec.excludes:
        exclude.bodyname1 = bodies.get(exclude.bodyname1, exclude.bodyname1)
        exclude.bodyname2 = bodies.get(exclude.bodyname2, exclude.bodyname2)
    for sensor in spec.sensors:
        sensor.objname = follow(sensor.objname, sensor.objtype)
        sensor.refname = follow(sensor.refname, sensor.reftype)
    for eq in spec.equalities:
        if eq.type in (mujoco.mjtEq.mjEQ_CONNECT, mujoco.mjtEq.mjEQ_WELD):
            eq.name1 = follow(eq.name1, eq.objtype)
            eq.name2 = follow(eq.name2, eq.objtype)
    for actuator in spec.actuators:
        if actuator.trntype == mujoco.mjtTrn.mjTRN_BODY:
            actuator.target = bodies.get(actuator.target, actuator.target)
        elif actuator.trntype == mujoco.mjtTrn.mjTRN_SITE:
            actuator.target = sites.get(actuator.target, actuator.target)
        actuator.refsite = sites.get(actuator.refsite, actuator.refsite)
        actuator.slidersite = sites.get(actuator.slidersite, actuator.slidersite)
    for element in list(spec.cameras) + list(spec.lights):
        element.targetbody = bodies.get(element.targetbody, element.targetbody)
    for skin in spec.skins:
        skin.bodyname = [bodies.get(b, b) for b in skin.bodyname]


def make_frame_names_unique(spec, source: str = "") -> dict[str, dict[str, str]]:
    """Rename bodies and sites whose names clash with another frame's name.

    Pinocchio keeps bodies, joints and sites in one frame list and looks frames up by name, so
    a body called like its joint (GR1: ``torso_waist_yaw``) or a site called like its body
    (Ability: ``thumb_tip``) makes look-ups ambiguous. Bodies get a ``_link`` suffix, then
    sites a ``_site`` suffix, until every name is unique; references follow.

    Returns:
        ``{"body": {old: new}, "site": {old: new}}`` for every renamed element.
    """
    names = _element_names(spec)
    taken = set(names["joint"])
    plan: dict[str, dict[str, str]] = {"body": {}, "site": {}}
    for kind, suffix in (("body", "_link"), ("site", "_site")):
        # A body must also dodge site names; sites then dodge every body and joint.
        others = set(names["site"]) if kind == "body" else set()
        for name in names[kind]:
            if name in taken or name in others:
                new = name + suffix
                while new in taken or new in others:
                    new += suffix
                plan[kind][name] = new
                name = new
            taken.add(name)
    if plan["body"] or plan["site"]:
        rename_frames(spec, plan["body"], plan["site"], source)
    return plan


_LEAF_KINDS = ("actuators", "sensors", "tendons", "equalities", "excludes", "pairs", "cameras",
               "lights", "keys", "numerics", "texts", "tuples", "geoms")
_ASSET_KINDS = ("meshes", "materials", "textures", "hfields", "skins")


def _prefix_clashing_names(child, parent, prefix: str, source: str) -> dict[str, dict[str, str]]:
    """Rename the child's elements whose names the parent already uses (``prefix`` + name).

    Joint names are the trajectory contract, so a joint clash is an error. Clashing bodies and
    sites are renamed with their references (``rename_frames``); leaf elements and assets too,
    and the few references to them (geom -> mesh/material, material -> texture, sensor/pair ->
    geom, actuator/sensor -> tendon) follow.
    """
    import mujoco

    taken = {e.name for e in parent.joints if e.name}
    joint_clashes = sorted({j.name for j in child.joints if j.name in taken})
    if joint_clashes:
        raise ModelLoadError(source, f"cannot attach: joints {joint_clashes} are already in "
                             "the model it attaches to (joint names must stay unique)")
    frame_plan = {}
    for kind in ("bodies", "sites"):
        taken = {e.name for e in getattr(parent, kind) if e.name}
        frame_plan[kind] = {e.name: prefix + e.name for e in getattr(child, kind)
                            if e.name and e.name in taken and e != child.worldbody}
    if frame_plan["bodies"] or frame_plan["sites"]:
        rename_frames(child, frame_plan["bodies"], frame_plan["sites"], source)
    renamed: dict[str, dict[str, str]] = {}
    for kind in _LEAF_KINDS + _ASSET_KINDS:
        taken = {e.name for e in getattr(parent, kind) if e.name}
        for element in getattr(child, kind):
            if element.name and element.name in taken:
                renamed.setdefault(kind, {})[element.name] = prefix + element.name
                element.name = prefix + element.name
    frames = {"body": frame_plan["bodies"], "site": frame_plan["sites"]}
    if not renamed:
        return frames
    meshes, materials = renamed.get("meshes", {}), renamed.get("materials", {})
    textures, geoms = renamed.get("textures", {}), renamed.get("geoms", {})
    tendons = renamed.get("tendons", {})
    for geom in child.geoms:
        geom.meshname = meshes.get(geom.meshname, geom.meshname)
        geom.material = materials.get(geom.material, geom.material)
    for site in child.sites:
        site.material = materials.get(site.material, site.material)
    for tendon in child.tendons:
        tendon.material = materials.get(tendon.material, tendon.material)
    for material in child.materials:
        material.textures = [textures.get(t, t) for t in material.textures]
    for pair in child.pairs:
        pair.geomname1 = geoms.get(pair.geomname1, pair.geomname1)
        pair.geomname2 = geoms.get(pair.geomname2, pair.geomname2)
    for sensor in child.sensors:
        if sensor.objtype == mujoco.mjtObj.mjOBJ_GEOM:
            sensor.objname = geoms.get(sensor.objname, sensor.objname)
        elif sensor.objtype == mujoco.mjtObj.mjOBJ_TENDON:
            sensor.objname = tendons.get(sensor.objname, sensor.objname)
    for actuator in child.actuators:
        if actuator.trntype == mujoco.mjtTrn.mjTRN_TENDON:
            actuator.target = tendons.get(actuator.target, actuator.target)
    return frames


class _MujocoWarnings:
    """Collect MuJoCo's C-level warnings instead of letting them reach stderr.

    Attaching with an empty prefix always warns that names might clash; Dyad renames clashes
    itself (``_prefix_clashing_names``) and checks the saved XML compiles, so that one warning
    is noise. Any other warning is re-raised as a Python warning.
    """

    _EXPECTED = "empty prefix"

    def __enter__(self):
        import warnings

        import mujoco

        self._old = mujoco.get_mju_user_warning()
        self.messages: list[str] = []
        mujoco.set_mju_user_warning(self.messages.append)
        self._catch = warnings.catch_warnings()
        self._catch.__enter__()
        warnings.filterwarnings("ignore", message=f".*{self._EXPECTED}.*")
        return self

    def __exit__(self, *exc):
        import warnings

        import mujoco

        mujoco.set_mju_user_warning(self._old)
        self._catch.__exit__(*exc)
        for message in self.messages:
            if self._EXPECTED not in message:
                warnings.warn(f"MuJoCo: {message}", stacklevel=3)
        return False


def _body_quat(spec, body) -> np.ndarray:
    """A body's orientation as a unit quaternion (w, x, y, z), whatever form the file used."""
    import mujoco

    if body.alt.type == mujoco.mjtOrientation.mjORIENTATION_QUAT:
        quat = np.array(body.quat, dtype=float)
    else:
        quat = np.array(spec.resolve_orientation(bool(spec.compiler.degree),
                                                 spec.compiler.eulerseq, body.alt), dtype=float)
    return quat / np.linalg.norm(quat)


def _set_body_pose(body, pos, quat) -> None:
    import mujoco

    body.pos = list(map(float, pos))
    body.quat = list(map(float, quat))
    body.alt.type = mujoco.mjtOrientation.mjORIENTATION_QUAT


def place_roots_at_origin(spec) -> None:
    """Put every top-level body at the world origin, unrotated.

    Pinocchio's MJCF parser fixes top-level bodies to its universe frame at identity, ignoring
    their pose, while MuJoCo honours it; for a fixed-base hand the world placement is arbitrary
    and for a floating base it is the free joint's job, so both engines agree on identity.
    """
    for body in spec.worldbody.bodies:
        _set_body_pose(body, (0.0, 0.0, 0.0), (1.0, 0.0, 0.0, 0.0))


def attach_spec(parent_spec, child_spec, body: str, prefix: str,
                pos=(0.0, 0.0, 0.0), quat=(1.0, 0.0, 0.0, 0.0), source: str = "",
                child_classes: set[str] = frozenset()) -> dict[str, dict[str, str]]:
    """Attach the world bodies of ``child_spec`` under ``body`` of ``parent_spec``.

    Names are kept (so a hand's joints are called the same on its own and on a humanoid);
    clashing body, site, actuator, sensor, geom or asset names get ``prefix``.

    Args:
        parent_spec: the model that receives the child (edited in place).
        child_spec: the model to attach (e.g. a hand); it is copied.
        body: parent body that carries the child (e.g. GR1 ``right_eef``).
        prefix: prefix for the child's clashing names, e.g. ``right_``.
        pos, quat: pose of the child's world frame in ``body`` (MuJoCo quaternion w, x, y, z).
        source: file named in errors.
        child_classes: the child's default class names (``default_class_names`` of its files,
            under their current names); with the classes its elements use they get ``prefix``
            (``rename_default_classes``) so no class name repeats.

    Returns:
        ``{"body": {old: new}, "site": {old: new}, "class": {old: new}}``: the child's renamed
        frames and default classes.
    """
    parent_body = parent_spec.body(body)
    if parent_body is None:
        raise ModelLoadError(source, f"cannot attach at body {body!r}: no such body")
    import mujoco

    renamed = _prefix_clashing_names(child_spec, parent_spec, prefix, source)
    classes = rename_default_classes(child_spec, parent_spec,
                                     set(child_classes) | used_class_names(child_spec), prefix)
    renamed["class"] = classes
    # Compose the mount pose into the child's top-level bodies and attach at an identity frame:
    # MuJoCo writes a non-identity attachment frame as <frame>, which Pinocchio does not read.
    mount_quat = np.asarray(quat, dtype=float) / np.linalg.norm(quat)
    for child_body in child_spec.worldbody.bodies:
        local_quat = _body_quat(child_spec, child_body)
        new_pos, new_quat = np.zeros(3), np.zeros(4)
        mujoco.mju_rotVecQuat(new_pos, np.asarray(child_body.pos, dtype=float), mount_quat)
        mujoco.mju_mulQuat(new_quat, mount_quat, local_quat)
        _set_body_pose(child_body, new_pos + np.asarray(pos, dtype=float), new_quat)
    frame = parent_body.add_frame()
    with _MujocoWarnings():
        try:
            parent_spec.attach(child_spec, prefix="", frame=frame)
        except Exception as exc:
            raise ModelLoadError(source, f"MuJoCo cannot attach it at {body!r}: {exc}") from None
    return renamed


def add_joint_coupling(spec, follower: str, leader: str, multiplier: float, offset: float,
                       source: str = "") -> None:
    """Add a joint equality ``follower = offset + multiplier * leader`` (a URDF mimic)."""
    import mujoco

    for name in (follower, leader):
        if spec.joint(name) is None:
            raise ModelLoadError(source, f"mimic names joint {name!r}, which the model lacks")
    eq = spec.add_equality()
    eq.type = mujoco.mjtEq.mjEQ_JOINT
    eq.name1 = follower
    eq.name2 = leader
    eq.data[:5] = [offset, multiplier, 0.0, 0.0, 0.0]
    eq.name = f"mimic_{follower}"


def compile_spec(spec, source: str = ""):
    """Compile ``spec`` into an ``MjModel``; MuJoCo's message goes into a ``ModelLoadError``."""
    try:
        with _MujocoWarnings():
            return spec.compile()
    except Exception as exc:
        raise ModelLoadError(source, f"MuJoCo cannot compile the model: {exc}") from None


def spec_to_xml(spec, source: str = "") -> str:
    """The MJCF text of ``spec`` (what both engines load)."""
    try:
        with _MujocoWarnings():
            return spec.to_xml()
    except Exception as exc:
        raise ModelLoadError(source, f"MuJoCo cannot write the model as MJCF: {exc}") from None


@dataclass(frozen=True)
class JointCoupling:
    """``follower = offset + multiplier * leader`` (both hinge or slide joints)."""

    follower: str
    leader: str
    multiplier: float
    offset: float


def read_joint_couplings(model) -> list[JointCoupling]:
    """Linear joint couplings of a compiled ``MjModel``.

    Reads active joint equalities with a linear polynomial (what URDF ``<mimic>`` becomes) and
    fixed tendons over two joints whose length may barely change (the Shadow hand's distal
    coupling), the later joint in depth-first order (the distal one) counted as the follower.
    """
    import mujoco

    couplings = []
    for i in range(model.neq):
        if model.eq_type[i] != mujoco.mjtEq.mjEQ_JOINT or not model.eq_active0[i]:
            continue
        j1, j2 = model.eq_obj1id[i], model.eq_obj2id[i]
        if j2 < 0:
            continue  # a joint locked to a constant, not a coupling
        coef = model.eq_data[i, :5]
        if np.any(np.abs(coef[2:]) > 1e-12):
            continue  # non-linear polynomial: not a mimic joint
        couplings.append(JointCoupling(model.joint(j1).name, model.joint(j2).name,
                                       float(coef[1]), float(coef[0])))
    for t in range(model.ntendon):
        if model.tendon_num[t] != 2 or not model.tendon_limited[t]:
            continue
        low, high = model.tendon_range[t]
        if high - low > 2 * _COUPLING_TENDON_SLACK:
            continue
        adr = model.tendon_adr[t]
        if any(model.wrap_type[adr + k] != mujoco.mjtWrap.mjWRAP_JOINT for k in range(2)):
            continue
        (ja, ca), (jb, cb) = [(model.wrap_objid[adr + k], model.wrap_prm[adr + k])
                              for k in range(2)]
        if ja < jb:  # the later (distal) joint in MuJoCo's depth-first order follows
            (ja, ca), (jb, cb) = (jb, cb), (ja, ca)
        # ca * q_follower + cb * q_leader = mid  ->  q_follower = mid/ca - cb/ca * q_leader
        mid = 0.5 * (low + high)
        couplings.append(JointCoupling(model.joint(ja).name, model.joint(jb).name,
                                       float(-cb / ca), float(mid / ca)))
    return couplings


def read_spec_joint_couplings(spec) -> list[JointCoupling]:
    """The linear joint equalities of an uncompiled spec (no tendons: those need a compile)."""
    import mujoco

    couplings = []
    for eq in spec.equalities:
        if eq.type != mujoco.mjtEq.mjEQ_JOINT or not eq.active or not eq.name2:
            continue
        coef = np.asarray(eq.data[:5], dtype=float)
        if np.any(np.abs(coef[2:]) > 1e-12):
            continue
        couplings.append(JointCoupling(eq.name1, eq.name2, float(coef[1]), float(coef[0])))
    return couplings


def build_pinocchio_model(xml: str, source: str = ""):
    """Pinocchio model of MJCF text, built by Pinocchio's own MJCF parser.

    Pinocchio 4.1 parses MJCF from a file only, so the text goes through a temporary file;
    asset paths in it are absolute, so the folder does not matter.
    """
    import pinocchio as pin

    fd, tmp = tempfile.mkstemp(prefix="dyad-robot-", suffix=".xml")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(xml)
        return pin.buildModelFromMJCF(tmp)
    except Exception as exc:
        raise ModelLoadError(source, f"Pinocchio cannot build the model: {exc}") from None
    finally:
        os.unlink(tmp)


def geom_quat(spec, geom) -> np.ndarray:
    """A geom's orientation as a quaternion (w, x, y, z), however the file wrote it (``quat``,
    ``euler``, ``axisangle``, ...), with the spec's angle unit and Euler sequence."""
    import mujoco

    if geom.alt.type == mujoco.mjtOrientation.mjORIENTATION_QUAT:
        return geom.quat
    return spec.resolve_orientation(bool(spec.compiler.degree), spec.compiler.eulerseq, geom.alt)


def copy_mesh_once(spec, mesh_name: str, target_spec, copied: set[str]) -> str:
    """Copy mesh ``mesh_name`` of ``spec`` (its file, or its inline vertices and faces) into
    ``target_spec`` unless its name is already in ``copied``; returns the mesh's name.

    Args:
        spec: the model the mesh belongs to.
        mesh_name: the mesh, as a geom's ``meshname`` names it.
        target_spec: the (small) model being built.
        copied: names already copied into ``target_spec``; updated.
    """
    mesh = spec.mesh(mesh_name)
    if mesh.name not in copied:
        copy = target_spec.add_mesh(name=mesh.name, file=mesh.file, scale=list(mesh.scale),
                                    refpos=list(mesh.refpos), refquat=list(mesh.refquat),
                                    inertia=mesh.inertia)
        if len(mesh.uservert):
            copy.uservert = list(mesh.uservert)
            copy.userface = list(mesh.userface)
        copied.add(mesh.name)
    return mesh.name


def body_tip_offsets(spec, bodies, margin_m: float = 0.002, source: str = ""
                     ) -> dict[str, np.ndarray]:
    """``body_tip_offset`` of several bodies without compiling the whole model.

    Only those bodies' mesh geoms go into a small model of their own (a humanoid's other
    meshes would cost seconds of processing); vertices come out in each body's frame.

    Args:
        spec: the model the bodies belong to.
        bodies: body names.
        margin_m: see ``body_tip_offset``.
        source: file named in errors.
    """
    import mujoco

    mini = mujoco.MjSpec()
    added: set[str] = set()
    for name in bodies:
        body = spec.body(name)
        if body is None:
            raise ModelLoadError(source, f"no body {name!r} to place a fingertip on")
        target = mini.worldbody.add_body(name=name)
        for geom in body.geoms:
            if geom.type != mujoco.mjtGeom.mjGEOM_MESH or not geom.meshname:
                continue
            target.add_geom(type=mujoco.mjtGeom.mjGEOM_MESH,
                            meshname=copy_mesh_once(spec, geom.meshname, mini, added),
                            pos=list(geom.pos), quat=list(geom_quat(spec, geom)))
    model = compile_spec(mini, source)
    offsets = {}
    for name in bodies:
        try:
            offsets[name] = body_tip_offset(model, name, margin_m)
        except ValueError as exc:
            raise ModelLoadError(source, str(exc)) from None
    return offsets


def body_tip_offset(model, body: str, margin_m: float = 0.002) -> np.ndarray:
    """Point at the far end of a body's meshes, in the body frame (a fingertip of a distal link).

    The body's mesh vertices are projected on the direction from the body origin (the distal
    joint) to their centroid; the tip is the mean of the vertices within ``margin_m`` of the
    farthest projection, which sits just inside the pad end of the phalanx.

    Args:
        model: a compiled ``MjModel``.
        body: the distal link.
        margin_m: band of projections, metres, averaged into the tip.
    """
    import mujoco

    body_id = mujoco.mj_name2id(model, mujoco.mjtObj.mjOBJ_BODY, body)
    if body_id < 0:
        raise KeyError(body)
    points = []
    for g in np.flatnonzero(model.geom_bodyid == body_id):
        if model.geom_type[g] != mujoco.mjtGeom.mjGEOM_MESH:
            continue
        mesh = model.geom_dataid[g]
        start, count = model.mesh_vertadr[mesh], model.mesh_vertnum[mesh]
        verts = model.mesh_vert[start:start + count].astype(float)
        rot = np.empty(9)
        mujoco.mju_quat2Mat(rot, model.geom_quat[g])
        points.append(verts @ rot.reshape(3, 3).T + model.geom_pos[g])
    if not points:
        raise ValueError(f"body {body!r} has no mesh to find its tip on")
    pts = np.concatenate(points)
    direction = pts.mean(axis=0)
    norm = np.linalg.norm(direction)
    if norm < 1e-6:
        raise ValueError(f"body {body!r}: mesh centred on the joint, no tip direction")
    proj = pts @ (direction / norm)
    return pts[proj >= proj.max() - margin_m].mean(axis=0)
