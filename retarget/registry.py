"""The robot registry: named robot configs (YAML) -> loaded :class:`RobotModel` records.

Built-in configs live in ``retarget/robots/*.yaml``. Users add their own with
:func:`register_robot_yaml`, with the ``DYAD_ROBOT_PATH`` environment variable (YAML files or
folders, separated by ``os.pathsep``), or with ``dyad ... --robot-config PATH``. The YAML
format is documented in docs/robots.md.

Loading a robot: parse the model file with MuJoCo's ``MjSpec``, remove scaffolding, attach
hands, add fingertip sites where the model has none, make frame names unique, compile once,
write MJCF (``spec.to_xml()``) and build the Pinocchio model from that same text. The composed
XML is kept in memory and in a small disk cache (``DYAD_CACHE_DIR``, default
``~/.cache/dyad``; set it to an empty string to disable) keyed by every input's content.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from dyad.errors import DyadInputError
from dyad.skeletons import HAND21_NAMES

from .hand_geometry import BASE, TIP, HandednessError, check_handedness, measure_hand
from .model_loading import (
    FREE_JOINT_NAME,
    ModelLoadError,
    add_joint_coupling,
    attach_spec,
    body_tip_offsets,
    build_pinocchio_model,
    compile_spec,
    default_class_names,
    load_spec,
    make_frame_names_unique,
    name_free_joints,
    name_unnamed_bodies,
    place_roots_at_origin,
    read_joint_couplings,
    read_spec_joint_couplings,
    remove_elements,
    rename_frames,
    resolve_model_file,
    spec_to_xml,
    used_class_names,
)
from .robot_model import HandMapping, RobotModel

BUILTIN_DIR = Path(__file__).parent / "robots"
ENV_ROBOT_PATH = "DYAD_ROBOT_PATH"
ENV_CACHE_DIR = "DYAD_CACHE_DIR"
SIDES = ("left", "right")
FINGER_NAMES = ("thumb", "index", "middle", "ring", "pinky")
# Bump when the composition changes what ends up in the XML, so disk caches are not reused.
_COMPOSE_VERSION = 7


class UnknownRobotError(DyadInputError, KeyError):
    """A robot name the registry does not know."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class RobotConfigError(DyadInputError):
    """A robot YAML config is malformed or names something its model lacks."""

    def __init__(self, path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


# ----------------------------------------------------------------------------- configs


@dataclass(frozen=True)
class FingerConfig:
    """One finger: ``distal`` link (its tip site is added at the mesh end unless ``tip`` names a
    frame), and optionally the ``base`` frame at its MCP (CMC for the thumb)."""

    distal: str | None = None
    tip: str | None = None
    base: str | None = None


@dataclass(frozen=True)
class HandConfig:
    """One hand of a robot config (see docs/robots.md)."""

    side: str
    wrist: str
    fingers: dict[str, FingerConfig] = field(default_factory=dict)
    keypoints: dict[str, str] = field(default_factory=dict)
    joints: tuple[str, ...] | None = None
    scale: float | None = None


@dataclass(frozen=True)
class AttachConfig:
    """Another registry robot (a hand) attached under ``body`` at ``pos``/``quat``."""

    robot: str
    body: str
    pos: tuple[float, float, float] = (0.0, 0.0, 0.0)
    quat: tuple[float, float, float, float] = (1.0, 0.0, 0.0, 0.0)


@dataclass(frozen=True)
class RobotConfig:
    """A parsed robot YAML.

    Attributes:
        name: registry name.
        path: the YAML file.
        text: its contents (part of the cache key).
        description: one line for ``dyad robots``.
        model_file, package: where the MJCF / URDF is (see ``resolve_model_file``).
        remove_bodies, remove_sites, remove_geoms: scaffolding removed after loading.
        rename_bodies, rename_sites: fixes to a model's names (applied before anything else
            reads them; the rest of the config uses the new names).
        hands: side -> HandConfig, for the hands the model itself carries.
        attach: robots attached to this one (their hands become this robot's hands).
        mimic: extra couplings (follower, leader, multiplier, offset) added as joint equalities.
    """

    name: str
    path: Path
    text: str
    description: str
    model_file: str
    package: str | None
    remove_bodies: tuple[str, ...] = ()
    remove_sites: tuple[str, ...] = ()
    remove_geoms: tuple[str, ...] = ()
    rename_bodies: dict[str, str] = field(default_factory=dict)
    rename_sites: dict[str, str] = field(default_factory=dict)
    hands: dict[str, HandConfig] = field(default_factory=dict)
    attach: tuple[AttachConfig, ...] = ()
    mimic: tuple[tuple[str, str, float, float], ...] = ()


def _expect(value, kind, path, where):
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
        raise RobotConfigError(path, f"{where} must be a {names}, got {value!r}")
    return value


def _check_keys(mapping: dict, allowed: set[str], path, where: str) -> None:
    unknown = set(mapping) - allowed
    if unknown:
        raise RobotConfigError(path, f"{where}: unknown keys {sorted(unknown)}; "
                               f"allowed: {sorted(allowed)}")


def _str_list(value, path, where) -> tuple[str, ...]:
    if value is None:
        return ()
    _expect(value, list, path, where)
    return tuple(_expect(v, str, path, f"{where} entry") for v in value)


def _floats(value, n, path, where) -> tuple[float, ...]:
    if not isinstance(value, list) or len(value) != n:
        raise RobotConfigError(path, f"{where} must be a list of {n} numbers, got {value!r}")
    try:
        return tuple(float(v) for v in value)
    except (TypeError, ValueError):
        raise RobotConfigError(path, f"{where} must be numbers, got {value!r}") from None


def _parse_hand(side: str, raw, path) -> HandConfig:
    where = f"hands.{side}"
    _expect(raw, dict, path, where)
    _check_keys(raw, {"wrist", "fingers", "keypoints", "joints", "scale"}, path, where)
    if "wrist" not in raw:
        raise RobotConfigError(path, f"{where} needs 'wrist': the frame at the robot's wrist")
    fingers = {}
    for finger, spec in (raw.get("fingers") or {}).items():
        fwhere = f"{where}.fingers.{finger}"
        if finger not in FINGER_NAMES:
            raise RobotConfigError(path, f"{fwhere}: unknown finger; use {list(FINGER_NAMES)}")
        _expect(spec, dict, path, fwhere)
        _check_keys(spec, {"distal", "tip", "base"}, path, fwhere)
        if not spec.get("distal") and not spec.get("tip"):
            raise RobotConfigError(path, f"{fwhere} needs 'distal' (the last link) or 'tip'")
        fingers[finger] = FingerConfig(spec.get("distal"), spec.get("tip"), spec.get("base"))
    keypoints = dict(_expect(raw.get("keypoints") or {}, dict, path, f"{where}.keypoints"))
    for key in keypoints:
        if key not in HAND21_NAMES:
            raise RobotConfigError(path, f"{where}.keypoints: {key!r} is not a hand21 joint; "
                                   f"use one of {list(HAND21_NAMES)}")
    scale = raw.get("scale")
    if scale is not None:
        scale = float(_expect(scale, (int, float), path, f"{where}.scale"))
        if scale <= 0:
            raise RobotConfigError(path, f"{where}.scale must be positive, got {scale}")
    joints = raw.get("joints")
    return HandConfig(side, _expect(raw["wrist"], str, path, f"{where}.wrist"), fingers,
                      keypoints, None if joints is None else _str_list(joints, path,
                                                                        f"{where}.joints"), scale)


_PARSED: dict[Path, tuple[tuple[int, int], RobotConfig]] = {}
# Absolute path as given -> resolved path. The registry re-checks every config on each look-up
# (so edits show); resolving walks every folder of a path, a stat is enough to see an edit.
_RESOLVED: dict[str, Path] = {}


def parse_robot_config(path: str | Path) -> RobotConfig:
    """Parse and check one robot YAML (without loading its model); memoized per file version.

    Raises:
        RobotConfigError: the file is unreadable, not YAML, or breaks the format, naming the key.
    """
    key = str(path)
    resolved = _RESOLVED.get(key)
    if resolved is None:
        resolved = Path(path).expanduser().resolve()
        if Path(path).expanduser().is_absolute():  # a relative one depends on the cwd
            _RESOLVED[key] = resolved
    path = resolved
    try:
        st = path.stat()
    except OSError as exc:
        raise RobotConfigError(path, f"cannot read robot config: {exc.strerror}") from None
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _PARSED.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    config = _parse_robot_config(path)
    _PARSED[path] = (stamp, config)
    return config


def _parse_robot_config(path: Path) -> RobotConfig:
    try:
        text = path.read_text()
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise RobotConfigError(path, f"cannot read robot config: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise RobotConfigError(path, f"not valid YAML: {exc}") from None
    _expect(raw, dict, path, "the file")
    _check_keys(raw, {"name", "description", "model", "remove", "rename", "hands", "attach",
                      "mimic"}, path, "top level")
    name = _expect(raw.get("name"), str, path, "'name'")
    model = _expect(raw.get("model"), dict, path, "'model'")
    _check_keys(model, {"file", "package"}, path, "model")
    model_file = _expect(model.get("file"), str, path, "model.file")
    package = model.get("package")
    remove = _expect(raw.get("remove") or {}, dict, path, "'remove'")
    _check_keys(remove, {"bodies", "sites", "geoms"}, path, "remove")
    rename = _expect(raw.get("rename") or {}, dict, path, "'rename'")
    _check_keys(rename, {"bodies", "sites"}, path, "rename")
    renames = {}
    for kind in ("bodies", "sites"):
        mapping = _expect(rename.get(kind) or {}, dict, path, f"rename.{kind}")
        for old, new in mapping.items():
            _expect(new, str, path, f"rename.{kind}.{old}")
        renames[kind] = {str(k): v for k, v in mapping.items()}
    hands_raw = _expect(raw.get("hands") or {}, dict, path, "'hands'")
    hands = {}
    for side, hand in hands_raw.items():
        if side not in SIDES:
            raise RobotConfigError(path, f"hands: side must be 'left' or 'right', got {side!r}")
        hands[side] = _parse_hand(side, hand, path)
    attach = []
    for k, entry in enumerate(_expect(raw.get("attach") or [], list, path, "'attach'")):
        where = f"attach[{k}]"
        _expect(entry, dict, path, where)
        _check_keys(entry, {"robot", "body", "pos", "quat"}, path, where)
        for key in ("robot", "body"):
            _expect(entry.get(key), str, path, f"{where}.{key}")
        pos = _floats(entry.get("pos", [0, 0, 0]), 3, path, f"{where}.pos")
        quat = _floats(entry.get("quat", [1, 0, 0, 0]), 4, path, f"{where}.quat")
        attach.append(AttachConfig(entry["robot"], entry["body"], pos, quat))
    mimic = []
    for k, entry in enumerate(_expect(raw.get("mimic") or [], list, path, "'mimic'")):
        where = f"mimic[{k}]"
        _expect(entry, dict, path, where)
        _check_keys(entry, {"joint", "leader", "multiplier", "offset"}, path, where)
        mimic.append((_expect(entry.get("joint"), str, path, f"{where}.joint"),
                      _expect(entry.get("leader"), str, path, f"{where}.leader"),
                      float(entry.get("multiplier", 1.0)), float(entry.get("offset", 0.0))))
    return RobotConfig(
        name=name, path=path, text=text, description=str(raw.get("description", "")),
        model_file=model_file, package=package,
        remove_bodies=_str_list(remove.get("bodies"), path, "remove.bodies"),
        remove_sites=_str_list(remove.get("sites"), path, "remove.sites"),
        remove_geoms=_str_list(remove.get("geoms"), path, "remove.geoms"),
        rename_bodies=renames["bodies"], rename_sites=renames["sites"],
        hands=hands, attach=tuple(attach), mimic=tuple(mimic))


# ----------------------------------------------------------------------------- registry

_LOCK = threading.RLock()
_REGISTERED: dict[str, RobotConfig] = {}   # names added by register_robot_yaml
_MODELS: dict[str, tuple[tuple[str, ...], RobotModel]] = {}  # name -> (config texts, model)


def _yaml_files(entry: str | Path) -> list[Path]:
    entry = Path(os.path.expanduser(str(entry)))
    if entry.is_dir():
        return sorted(list(entry.glob("*.yaml")) + list(entry.glob("*.yml")))
    return [entry]


def _builtin_configs() -> dict[str, RobotConfig]:
    configs = {}
    for path in _yaml_files(BUILTIN_DIR):
        config = parse_robot_config(path)
        configs[config.name] = config
    return configs


def _env_configs() -> dict[str, RobotConfig]:
    configs: dict[str, RobotConfig] = {}
    for entry in filter(None, os.environ.get(ENV_ROBOT_PATH, "").split(os.pathsep)):
        if not Path(os.path.expanduser(entry)).exists():
            raise RobotConfigError(entry, f"named in ${ENV_ROBOT_PATH} but does not exist")
        for path in _yaml_files(entry):
            config = parse_robot_config(path)
            _add(configs, config)
    return configs


def _add(configs: dict[str, RobotConfig], config: RobotConfig) -> None:
    old = configs.get(config.name)
    if old is not None and old.path != config.path:
        raise RobotConfigError(config.path, f"robot name {config.name!r} is already defined "
                               f"by {old.path}; pick another name")
    configs[config.name] = config


def _all_configs() -> dict[str, RobotConfig]:
    with _LOCK:
        configs = dict(_builtin_configs())
        for extra in (_env_configs(), _REGISTERED):
            for config in extra.values():
                _add(configs, config)
        return configs


def register_robot_yaml(path: str | Path) -> str:
    """Register a user robot config; returns its name.

    Registering the same file again refreshes it; a name already used by another file raises
    :class:`RobotConfigError`.
    """
    config = parse_robot_config(path)
    with _LOCK:
        configs = _all_configs()
        if config.name in configs and configs[config.name].path != config.path:
            raise RobotConfigError(config.path, f"robot name {config.name!r} is already "
                                   f"defined by {configs[config.name].path}; pick another name")
        _REGISTERED[config.name] = config
        _MODELS.pop(config.name, None)
    return config.name


def list_robots() -> list[str]:
    """Names of every known robot, sorted."""
    return sorted(_all_configs())


def get_robot_config(name: str, configs: dict[str, RobotConfig] | None = None) -> RobotConfig:
    """The config of robot ``name``; raises :class:`UnknownRobotError` listing known names.

    Args:
        name: the robot.
        configs: every known config (``_all_configs()``), when the caller already has them.
    """
    configs = _all_configs() if configs is None else configs
    if not isinstance(name, str) or name not in configs:
        raise UnknownRobotError(
            f"unknown robot {name!r}; known robots: {', '.join(sorted(configs))} "
            f"(add your own with a robot YAML, see docs/robots.md)")
    return configs[name]


# ----------------------------------------------------------------------------- composition


@dataclass
class _PendingHand:
    """A hand while its robot is being composed: frame names as in the spec."""

    config: HandConfig
    robot: str
    yaml: Path
    keypoints: dict[int, str]
    tip_sites: dict[str, str]  # new site name -> distal body


@dataclass
class _Composition:
    spec: object
    hands: list[_PendingHand]
    files: list[Path]
    texts: list[str]
    sources: list[str]
    classes: set[str] = field(default_factory=set)  # default classes, current names


def _package_version(package: str | None) -> str:
    if not package:
        return ""
    from importlib import metadata

    for dist in (package, package.replace("_", "-")):
        try:
            return metadata.version(dist)
        except metadata.PackageNotFoundError:
            continue
    return ""


def _frame_kind(spec, name: str) -> str | None:
    if spec.body(name) is not None:
        return "body"
    if spec.site(name) is not None:
        return "site"
    return None


def _require_frame(spec, name: str, config: RobotConfig, where: str) -> None:
    if _frame_kind(spec, name) is None:
        bodies = [b.name for b in spec.bodies if b.name][:40]
        raise RobotConfigError(config.path, f"{where} names frame {name!r}, which the model "
                               f"has neither as a body nor a site; bodies include {bodies}")


def _compose(config: RobotConfig, chain: tuple[str, ...] = ()) -> _Composition:
    if config.name in chain:
        raise RobotConfigError(config.path, f"attach loop: {' -> '.join(chain + (config.name,))}")
    try:
        model_path = resolve_model_file(config.model_file, config.package, config.path.parent)
    except ModelLoadError as exc:
        raise RobotConfigError(config.path, f"model.file: {exc}") from None
    spec = load_spec(model_path)
    source = str(model_path)
    try:
        rename_frames(spec, config.rename_bodies, config.rename_sites, source)
    except ModelLoadError as exc:
        raise RobotConfigError(config.path, f"rename: {exc.reason}") from None
    for name in config.remove_geoms:
        geom = spec.geom(name)
        if geom is None:
            raise RobotConfigError(config.path, f"remove.geoms: the model has no geom {name!r}")
        spec.delete(geom)
    try:
        remove_elements(spec, config.remove_bodies, config.remove_sites, source)
    except ModelLoadError as exc:
        raise RobotConfigError(config.path, f"remove: {exc.reason}") from None
    for follower, leader, multiplier, offset in config.mimic:
        try:
            add_joint_coupling(spec, follower, leader, multiplier, offset, source)
        except ModelLoadError as exc:
            raise RobotConfigError(config.path, f"mimic: {exc.reason}") from None

    hands = []
    for side, hand in config.hands.items():
        where = f"hands.{side}"
        _require_frame(spec, hand.wrist, config, f"{where}.wrist")
        keypoints = {0: hand.wrist}
        tip_sites = {}
        for finger, fcfg in hand.fingers.items():
            if fcfg.base:
                _require_frame(spec, fcfg.base, config, f"{where}.fingers.{finger}.base")
                keypoints[BASE[finger]] = fcfg.base
            if fcfg.tip:
                _require_frame(spec, fcfg.tip, config, f"{where}.fingers.{finger}.tip")
                keypoints[TIP[finger]] = fcfg.tip
            else:
                if spec.body(fcfg.distal) is None:
                    raise RobotConfigError(config.path, f"{where}.fingers.{finger}.distal: the "
                                           f"model has no body {fcfg.distal!r}")
                site = f"{side}_{finger}_tip"
                spec.body(fcfg.distal).add_site(name=site, size=[0.004], rgba=[1, 0.4, 0, 0.6],
                                                group=3)
                tip_sites[site] = fcfg.distal
                keypoints[TIP[finger]] = site
        for key, frame in hand.keypoints.items():
            _require_frame(spec, frame, config, f"{where}.keypoints.{key}")
            keypoints[HAND21_NAMES.index(key)] = frame
        for finger in ("thumb", "index"):
            if TIP[finger] not in keypoints:
                raise RobotConfigError(config.path, f"{where} needs the {finger} tip (a "
                                       f"'fingers.{finger}' entry or 'keypoints.{finger}_tip')")
        hands.append(_PendingHand(hand, config.name, config.path, keypoints, tip_sites))

    comp = _Composition(spec, hands, [model_path], [config.text],
                        [_describe_source(config, model_path)],
                        default_class_names(model_path) | used_class_names(spec))
    for entry in config.attach:
        child_config = get_robot_config(entry.robot)
        child = _compose(child_config, chain + (config.name,))
        sides = [h.config.side for h in child.hands]
        prefix = f"{sides[0]}_" if len(sides) == 1 else f"{entry.robot}_"
        try:
            renamed = attach_spec(spec, child.spec, entry.body, prefix, entry.pos, entry.quat,
                                  source, child.classes)
        except ModelLoadError as exc:
            raise RobotConfigError(config.path, f"attach {entry.robot!r}: {exc.reason}") from None
        comp.classes |= {renamed["class"].get(c, c) for c in child.classes}
        comp.classes |= set(renamed["class"].values())
        _apply_renames(child.hands, renamed)
        taken = {h.config.side for h in comp.hands}
        for hand in child.hands:
            if hand.config.side in taken:
                raise RobotConfigError(config.path, f"attach {entry.robot!r}: the robot already "
                                       f"has a {hand.config.side} hand")
        comp.hands += child.hands
        comp.files += child.files
        comp.texts += child.texts
        comp.sources += [f"{entry.robot} ({s})" for s in child.sources]
    return comp


def _describe_source(config: RobotConfig, model_path: Path) -> str:
    if config.package:
        version = _package_version(config.package)
        return f"{config.package}{' ' + version if version else ''}: {config.model_file}"
    return str(model_path)


def _cache_key(comp: _Composition) -> str:
    import mujoco

    digest = hashlib.sha256()
    digest.update(f"{_COMPOSE_VERSION} mujoco {mujoco.__version__}\n".encode())
    for text in comp.texts:
        digest.update(text.encode())
    files = set(comp.files) | {Path(m.file) for m in comp.spec.meshes if m.file}
    for path in sorted(files):
        try:
            st = path.stat()
            digest.update(f"{path} {st.st_size} {st.st_mtime_ns}\n".encode())
        except OSError:
            digest.update(f"{path} missing\n".encode())
    return digest.hexdigest()


def _cache_dir() -> Path | None:
    value = os.environ.get(ENV_CACHE_DIR)
    if value is not None:
        return Path(value).expanduser() / "robots" if value else None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "dyad" / "robots"


def _cache_read(name: str, key: str) -> dict | None:
    folder = _cache_dir()
    if folder is None:
        return None
    try:
        data = json.loads((folder / f"{name}-{key[:20]}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("key") == key else None


def _cache_write(name: str, key: str, data: dict) -> None:
    folder = _cache_dir()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{name}-{key[:20]}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"key": key, **data}))
        tmp.replace(folder / f"{name}-{key[:20]}.json")
    except OSError:
        pass  # a read-only home only costs the next process a recompile


def _compose_xml(name: str, comp: _Composition) -> tuple[str, list[tuple], str]:
    """(MJCF text, couplings, source) for a composition, through the caches."""
    spec = comp.spec
    place_roots_at_origin(spec)
    name_unnamed_bodies(spec)
    name_free_joints(spec)
    renames = make_frame_names_unique(spec, comp.sources[0])
    _apply_renames(comp.hands, renames)
    key = _cache_key(comp)
    cached = _cache_read(name, key)
    if cached is not None:
        return cached["xml"], [tuple(c) for c in cached["mimic"]], key
    source = comp.sources[0]
    for hand in comp.hands:
        if not hand.tip_sites:
            continue
        try:
            offsets = body_tip_offsets(spec, sorted(set(hand.tip_sites.values())), source=source)
        except ModelLoadError as exc:
            raise RobotConfigError(hand.yaml, f"{hand.robot} hands.{hand.config.side}: cannot "
                                   f"place a fingertip site: {exc.reason}; name an existing tip "
                                   "frame with 'tip'") from None
        for site, body in hand.tip_sites.items():
            spec.site(site).pos = offsets[body]
    if len(spec.tendons):
        # Tendon couplings (the Shadow hand's) are only readable from a compiled model.
        found = read_joint_couplings(compile_spec(spec, source))
    else:
        found = read_spec_joint_couplings(spec)
    couplings = [(c.follower, c.leader, c.multiplier, c.offset) for c in found]
    xml = spec_to_xml(spec, source)
    _cache_write(name, key, {"xml": xml, "mimic": couplings})
    return xml, couplings, key


def _apply_renames(hands: list[_PendingHand], renames: dict[str, dict[str, str]]) -> None:
    bodies, sites = renames["body"], renames["site"]
    for hand in hands:
        for k, frame in list(hand.keypoints.items()):
            # A name that was a body keeps following the body (bodies are renamed first).
            hand.keypoints[k] = bodies.get(frame, sites.get(frame, frame))
        hand.tip_sites = {sites.get(site, site): bodies.get(body, body)
                          for site, body in hand.tip_sites.items()}


def _apply_couplings(pin_model, q: np.ndarray, couplings) -> np.ndarray:
    """Set each coupled follower from its leader (clipped into the follower's limits)."""
    for follower, leader, multiplier, offset in couplings:
        jf = pin_model.joints[pin_model.getJointId(follower)]
        jl = pin_model.joints[pin_model.getJointId(leader)]
        value = offset + multiplier * q[jl.idx_q]
        q[jf.idx_q] = np.clip(value, pin_model.lowerPositionLimit[jf.idx_q],
                              pin_model.upperPositionLimit[jf.idx_q])
    return q


def _rest_q(pin_model, couplings=()) -> np.ndarray:
    import pinocchio as pin

    q = pin.neutral(pin_model)
    low, high = pin_model.lowerPositionLimit, pin_model.upperPositionLimit
    finite = np.isfinite(low) & np.isfinite(high) & (high >= low)
    q[finite] = np.clip(q[finite], low[finite], high[finite])
    return _apply_couplings(pin_model, q, couplings)


def rest_configuration(robot: RobotModel) -> np.ndarray:
    """The rest pose the registry measures hands on, as a Pinocchio configuration.

    Every joint at 0 clipped into its limits (fingers open, arms as the model is drawn), then
    coupled joints set from their leaders (the Ability hand's distal links sit at 0.72 rad);
    a floating base at the origin, unrotated.
    """
    return _rest_q(robot.pin_model, robot.mimic)


def _joint_table(pin_model, where: Path) -> tuple[tuple[str, ...], np.ndarray, np.ndarray, bool]:
    names, lower, upper, floating = [], [], [], False
    for jid in range(1, pin_model.njoints):
        joint = pin_model.joints[jid]
        name = pin_model.names[jid]
        if joint.shortname() == "JointModelFreeFlyer":
            if jid != 1:
                raise RobotConfigError(where, f"free joint {name!r} is not the root")
            floating = True
            continue
        if joint.nq != 1:
            raise RobotConfigError(where, f"joint {name!r} ({joint.shortname()}) is not a "
                                   "1-DoF hinge or slide; Dyad's trajectories need those")
        names.append(name)
        lower.append(pin_model.lowerPositionLimit[joint.idx_q])
        upper.append(pin_model.upperPositionLimit[joint.idx_q])
    return tuple(names), np.array(lower), np.array(upper), floating


def _frame_id(pin_model, name: str, where) -> int:
    if not pin_model.existFrame(name):
        raise RobotConfigError(where, f"frame {name!r} is missing from the Pinocchio model")
    return pin_model.getFrameId(name)


def _finger_joints(pin_model, wrist_frame: int) -> list[str]:
    wrist_joint = pin_model.frames[wrist_frame].parentJoint
    return [pin_model.names[j] for j in range(1, pin_model.njoints)
            if j != wrist_joint and wrist_joint in list(pin_model.supports[j])
            and pin_model.joints[j].nq == 1]


def _curl_q(pin_model, q_rest: np.ndarray, joints: list[str], couplings=(),
            fraction: float = 0.3) -> np.ndarray:
    """Fingers partly curled: each joint ``fraction`` of the way from rest to its flexion limit.

    Flexion is taken as the long way from the open pose (the limit farther from zero). Only
    the first part of the curl is used: a full fist can bring a tip back up level with a
    resting tip that already hangs below the palm (the Ability hand's).
    """
    q = q_rest.copy()
    for name in joints:
        joint = pin_model.joints[pin_model.getJointId(name)]
        low = pin_model.lowerPositionLimit[joint.idx_q]
        high = pin_model.upperPositionLimit[joint.idx_q]
        if np.isfinite(low) and np.isfinite(high):
            target = high if abs(high) >= abs(low) else low
            q[joint.idx_q] += fraction * (target - q[joint.idx_q])
    return _apply_couplings(pin_model, q, couplings)


def _hand_mapping(pin_model, hand: _PendingHand, robot: str, couplings) -> HandMapping:
    import pinocchio as pin

    cfg, where = hand.config, hand.yaml
    data = pin_model.createData()
    wrist = _frame_id(pin_model, hand.keypoints[0], where)
    ids = {k: _frame_id(pin_model, f, where) for k, f in hand.keypoints.items()}
    all_fingers = _finger_joints(pin_model, wrist)
    if cfg.joints is not None:
        missing = [j for j in cfg.joints if j not in all_fingers]
        if missing:
            raise RobotConfigError(where, f"hands.{cfg.side}.joints: {missing} do not move "
                                   f"fingers of wrist {hand.keypoints[0]!r}")
        finger_joints = [j for j in all_fingers if j in cfg.joints]
    else:
        finger_joints = all_fingers

    def points(q):
        pin.framesForwardKinematics(pin_model, data, q)
        world_to_wrist = data.oMf[wrist].inverse()
        return {k: world_to_wrist.act(data.oMf[i].translation).copy() for k, i in ids.items()}

    q_rest = _rest_q(pin_model, couplings)
    try:
        geometry = measure_hand(points(q_rest), cfg.side)
        curled = points(_curl_q(pin_model, q_rest, finger_joints, couplings))
        check_handedness(geometry, {TIP[f]: curled[TIP[f]] for f in TIP if TIP[f] in curled},
                         cfg.side, f"{robot} hands.{cfg.side}")
    except HandednessError as exc:
        raise RobotConfigError(where, str(exc)) from None
    return HandMapping(
        side=cfg.side, wrist_frame=hand.keypoints[0],
        keypoint_frames=dict(sorted(hand.keypoints.items())),
        finger_joints=tuple(finger_joints),
        rotation_hand_to_wrist=geometry.rotation_hand_to_wrist,
        scale=cfg.scale if cfg.scale is not None else geometry.scale)


def load_robot(name: str) -> RobotModel:
    """The robot ``name`` as a :class:`RobotModel` (loaded once per process, then cached).

    Raises:
        UnknownRobotError: no robot of that name (the message lists the known ones).
        RobotConfigError: its YAML is wrong, or names frames or joints the model lacks.
        ModelLoadError: a model file is missing or does not load (the message names it).
    """
    configs = _all_configs()
    config = get_robot_config(name, configs)
    with _LOCK:
        texts = _config_texts(config, configs)
        hit = _MODELS.get(name)
        if hit is not None and hit[0] == texts:
            return hit[1]
        comp = _compose(config)
        xml, couplings, _ = _compose_xml(name, comp)
        pin_model = build_pinocchio_model(xml, comp.sources[0])
        counts = Counter(f.name for f in pin_model.frames)
        clashes = sorted(n for n, c in counts.items() if c > 1)
        if clashes:
            raise RobotConfigError(config.path, f"frame names {clashes} are not unique in the "
                                   "Pinocchio model; rename them with 'rename'")
        joint_names, lower, upper, floating = _joint_table(pin_model, config.path)
        hands = {}
        for hand in comp.hands:
            hands[hand.config.side] = _hand_mapping(pin_model, hand, name, couplings)
        model = RobotModel(
            name=name,
            source=" + ".join(comp.sources),
            model_xml=xml,
            model_format="mjcf",
            asset_dir=str(comp.files[0].parent),
            joint_names=joint_names,
            lower=lower,
            upper=upper,
            hands=hands,
            floating_base=floating,
            mimic=tuple((f, l, float(m), float(o)) for f, l, m, o in couplings),
            pin_model=pin_model,
        )
        _MODELS[name] = (texts, model)
        return model


def _config_texts(config: RobotConfig, configs: dict[str, RobotConfig],
                  chain: tuple[str, ...] = ()) -> tuple[str, ...]:
    """The YAML texts a robot is built from (itself and what it attaches), for the memo key."""
    if config.name in chain:
        return (config.text,)
    texts = (str(config.path), config.text)
    for entry in config.attach:
        texts += _config_texts(get_robot_config(entry.robot, configs), configs,
                               chain + (config.name,))
    return texts


@dataclass(frozen=True)
class RobotSummary:
    """What ``dyad robots`` lists, read without compiling the model."""

    name: str
    dof: int
    floating_base: bool
    source: str
    hands: tuple[str, ...]
    description: str
    config_path: str
    error: str = ""


def robot_summary(name: str) -> RobotSummary:
    """Name, DoF, source and hands of a robot from its parsed (not compiled) model."""
    import mujoco

    config = get_robot_config(name)
    try:
        comp = _compose(config)
    except (ModelLoadError, RobotConfigError) as exc:
        return RobotSummary(name, 0, False, config.model_file, (), config.description,
                            str(config.path), error=str(exc))
    joints = [j for j in comp.spec.joints]
    free = [j for j in joints if j.type == mujoco.mjtJoint.mjJNT_FREE]
    sides = tuple(sorted(h.config.side for h in comp.hands))
    return RobotSummary(name, len(joints) - len(free), bool(free), " + ".join(comp.sources),
                        sides, config.description, str(config.path))


__all__ = [
    "FREE_JOINT_NAME", "ModelLoadError", "RobotConfig", "RobotConfigError", "RobotSummary",
    "UnknownRobotError", "get_robot_config", "list_robots", "load_robot", "parse_robot_config",
    "register_robot_yaml", "rest_configuration", "robot_summary",
]
