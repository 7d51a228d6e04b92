"""The ROS-free logic of the nodes: command parsing, the command limiter, the playback schedule,
robot sets and hand sources, and chunk retargeting onto two robot hands."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.errors import DyadInputError
from dyad.motion import MotionChunk
from dyad.ros2.chunk_retargeter import ChunkRetargeter, HandSource, hand_keypoints, parse_sources
from dyad.ros2.command_limiter import CommandLimiter
from dyad.ros2.command_message import parse_command
from dyad.ros2.playback_schedule import CheckedChunk, PlaybackSchedule
from dyad.ros2.robot_set import load_robot_set, parse_instances


# ----------------------------------------------------------------------------- commands

def test_plain_text_and_json_commands():
    cmd = parse_command("  the hands   clap ", default_mode="bimanual", default_seconds=3.0)
    assert (cmd.text, cmd.mode, cmd.seconds, cmd.seed) == ("the hands clap", "bimanual", 3.0,
                                                           None)
    cmd = parse_command('{"text": "two people shake hands", "mode": "duet", "seconds": 6, '
                        '"seed": 3, "agent_texts": {"A": "reaches"}, "steps": 4}')
    assert (cmd.text, cmd.mode, cmd.seconds, cmd.seed) == ("two people shake hands", "duet",
                                                           6.0, 3)
    assert cmd.agent_texts == {"A": "reaches"} and cmd.sampling == {"steps": 4}


@pytest.mark.parametrize("data, message", [
    ("", "empty"), ("   \t ", "empty"), ("\x00\x01\x07", "empty"),
    ("{not json", "not JSON"), ("[1, 2]", None), ('["a"]', None),
    ('{"mode": "duet"}', "no 'text'"), ('{"text": "wave", "colour": "red"}', "unknown key"),
    ('{"text": "wave", "seconds": "long"}', "seconds"), ('{"text": "wave", "seed": 1.5}', "seed"),
    ('{"text": "wave", "seconds": true}', "seconds"), ('{"text": "wave", "mode": 3}', "mode"),
    ('{"text": "wave", "agent_texts": ["A"]}', "agent_texts"), ('{"text": ""}', "empty"),
    ('{"text": "wave", "mode": "tango"}', "unknown mode"),
    ('{"text": "wave", "seconds": -3}', "positive"),
])
def test_garbage_commands_raise_input_errors(data, message):
    if message is None:  # a JSON list is plain text, and a fine description of nothing
        assert parse_command(data).text == data
        return
    with pytest.raises(DyadInputError, match=message):
        parse_command(data)


def test_overlong_command_is_refused():
    with pytest.raises(DyadInputError, match="longer than"):
        parse_command("wave " * 5000)


# ----------------------------------------------------------------------------- limiter

def test_limiter_clamps_positions_then_velocity():
    lim = CommandLimiter(("a", "b"), lower=[-1.0, 0.0], upper=[1.0, 2.0], max_velocity=2.0)
    q, clamped = lim.limit([5.0, 1.0], dt_s=0.1)
    assert clamped and q.tolist() == [1.0, 1.0]          # first command: limits only
    q, clamped = lim.limit([-1.0, 1.1], dt_s=0.1)        # 2 rad/s * 0.1 s = 0.2 per step
    assert clamped and np.allclose(q, [0.8, 1.1])
    q, clamped = lim.limit([0.7, 1.2], dt_s=0.1)
    assert not clamped and np.allclose(q, [0.7, 1.2])
    q, clamped = lim.limit([np.nan, 1.2], dt_s=0.1)     # a NaN keeps the last command
    assert clamped and np.allclose(q, [0.7, 1.2])
    assert lim.clamped_commands == 3


def test_limiter_sequence_never_exceeds_limits():
    rng = np.random.default_rng(0)
    lim = CommandLimiter(tuple("abc"), [-0.5] * 3, [0.5] * 3, max_velocity=[1.0, 2.0, 4.0])
    lim.reset([0.0, 0.0, 0.0])
    out, changed = lim.limit_sequence(rng.normal(0, 1, size=(50, 3)), dt_s=1 / 30)
    steps = np.abs(np.diff(np.vstack([[0, 0, 0], out]), axis=0))
    assert (out >= -0.5).all() and (out <= 0.5).all() and changed > 0
    assert (steps <= np.array([1.0, 2.0, 4.0]) / 30 + 1e-12).all()


def test_limiter_rejects_bad_setup_and_commands():
    with pytest.raises(DyadInputError, match="lower limit"):
        CommandLimiter(("a",), [1.0], [0.0], 1.0)
    with pytest.raises(DyadInputError, match="max_velocity"):
        CommandLimiter(("a",), [0.0], [1.0], 0.0)
    lim = CommandLimiter(("a", "b"), [0, 0], [1, 1], 1.0)
    with pytest.raises(DyadInputError, match="3 joints, expected 2"):
        lim.limit([0, 0, 0], 0.1)


# ----------------------------------------------------------------------------- schedule

def _chunk(stream, start, frames=8, value=0.0, joints=2):
    qpos = value + np.arange(start, start + frames, dtype=float)[:, None] * np.ones(joints)
    return CheckedChunk(stream, start, qpos, 30.0)


def test_schedule_plays_chunks_when_due_and_counts_underruns():
    s = PlaybackSchedule()
    assert s.push(_chunk((1, 0), 0), now_s=10.0) == "started"
    assert [c.start_frame for c in s.pop_due_chunks(10.0)] == [0]
    assert s.push(_chunk((1, 0), 8), now_s=10.1) == "queued"       # due at 10 + 8/30
    assert s.pop_due_chunks(10.2) == []
    assert [c.start_frame for c in s.pop_due_chunks(10.0 + 8 / 30)] == [8]
    assert s.push(_chunk((1, 0), 16), now_s=11.0) == "late"        # was due at 10.533
    assert s.underruns == 1 and s.max_late_s == pytest.approx(11.0 - (10 + 16 / 30))
    assert s.due_time_s(16) == pytest.approx(11.0)                # timeline shifted, no skip


def test_schedule_preempts_with_newer_streams_and_stops_on_gaps():
    s = PlaybackSchedule()
    s.push(_chunk((5, 0), 0), 0.0)
    assert s.push(_chunk((4, 999), 0), 0.1) == "old stream"
    assert s.push(_chunk((5, 0), 16), 0.1) == "gap"               # frames 8-15 never came
    assert s.stopped and not s.queue
    assert s.push(_chunk((5, 0), 24), 0.2) == "stopped stream"
    assert s.push(_chunk((6, 0), 0), 0.3) == "started" and not s.stopped


def test_schedule_end_marker_ends_only_the_current_stream():
    s = PlaybackSchedule()
    s.push(_chunk((1, 0), 0), 0.0)
    assert not s.end((0, 5)) and not s.ended
    assert s.end((1, 0)) and s.ended
    s.push(_chunk((2, 0), 0), 1.0)
    assert not s.ended                                            # a new stream is not ended


def test_schedule_interpolates_positions_across_chunks():
    s = PlaybackSchedule()
    s.push(_chunk((1, 0), 0, frames=4), 0.0)
    s.push(_chunk((1, 0), 4, frames=4), 0.0)
    assert np.allclose(s.position_at(0.0), [0, 0])
    assert np.allclose(s.position_at(1.5 / 30), [1.5, 1.5])
    assert np.allclose(s.position_at(3.5 / 30), [3.5, 3.5])       # between the two chunks
    assert np.allclose(s.position_at(7.0 / 30), [7, 7])
    assert np.allclose(s.position_at(5.0), [7, 7])                # ran dry: hold the last frame
    assert s.frames_left_s(5.0) < 0


# ----------------------------------------------------------------------------- robots

def test_instances_and_sources_are_parsed_and_checked():
    assert parse_instances(["left=inspire_left", "inspire_right"]) == (
        ("left", "inspire_left"), ("inspire_right", "inspire_right"))
    for bad, msg in ((["=x"], "INSTANCE=ROBOT"), (["a/b=x"], "INSTANCE=ROBOT"),
                     (["a=x", "a=y"], "twice"), ([], "empty")):
        with pytest.raises(DyadInputError, match=msg):
            parse_instances(bad)
    assert parse_sources(["right=A:right"], ["left", "right"]) == {
        "left": HandSource("left"), "right": HandSource("A", "right")}
    for bad, msg in ((["x=A"], "no robot instance"), (["right=A:up"], "side"),
                     (["right"], "INSTANCE=AGENT")):
        with pytest.raises(DyadInputError, match=msg):
            parse_sources(bad, ["left", "right"])


def test_humanoids_and_unknown_robots_are_refused():
    with pytest.raises(DyadInputError, match="floating base"):
        load_robot_set(["a=gr1_inspire"])
    with pytest.raises(DyadInputError, match="inspire_right"):
        load_robot_set(["a=no_such_robot"])


def test_hand_keypoints_of_duet_motion_take_the_wrist_from_the_body():
    from dyad.skeletons import BODY22_HANDS_REST

    joints = np.stack([BODY22_HANDS_REST, BODY22_HANDS_REST + [1.0, 0, 0]])[None]
    chunk = MotionChunk(joints, 0, 30.0, "body22+hands", ("A", "B"))
    right_b = hand_keypoints(chunk, HandSource("B", "right"), "left")
    assert right_b.shape == (1, 21, 3)
    np.testing.assert_allclose(right_b[0, 0], joints[0, 1, 21])          # r_wrist
    np.testing.assert_allclose(right_b[0, 1:], joints[0, 1, 42:62])
    with pytest.raises(DyadInputError, match="no 'left'"):
        hand_keypoints(chunk, HandSource("left"), "left")


@pytest.fixture(scope="module")
def two_hands():
    return load_robot_set(["left=inspire_left", "right=inspire_right"])


def _fingers_clip():
    """A synthetic bimanual clip whose fingers move (counting on fingers), 30 fps."""
    from dyad.training.synth.bimanual import count_on_fingers

    return count_on_fingers(np.random.default_rng(0))


def test_chunk_retargeter_streams_a_bimanual_clip(two_hands):
    record = _fingers_clip()
    retargeter = ChunkRetargeter(two_hands)
    stream = (1, 0)
    chunks = []
    for start in range(0, 48, 8):
        chunk = MotionChunk(record.joints[start:start + 8], start, 30.0, "hand21",
                            record.agents)
        traj = retargeter.retarget(chunk, stream)
        assert traj.joint_names == two_hands.joint_names
        assert traj.joint_names[0].startswith("left/") and traj.start_frame == start
        assert (traj.qpos >= two_hands.lower - 1e-9).all()
        assert (traj.qpos <= two_hands.upper + 1e-9).all()
        assert (traj.status == "ok").all()
        chunks.append(traj.qpos)
    assert np.ptp(np.concatenate(chunks), axis=0).max() > 0.3   # the fingers do move
    with pytest.raises(DyadInputError, match="expects frame 48"):
        retargeter.retarget(MotionChunk(record.joints[:8], 0, 30.0, "hand21", record.agents),
                            stream)
    # a new stream starts cold, from frame 0, and gives the same joints again
    again = retargeter.retarget(MotionChunk(record.joints[:8], 0, 30.0, "hand21",
                                            record.agents), (2, 0))
    np.testing.assert_allclose(again.qpos, chunks[0], atol=1e-6)


def test_chunk_retargeter_holds_bad_frames(two_hands):
    record = _fingers_clip()
    joints = record.joints[:16].copy()
    retargeter = ChunkRetargeter(two_hands)
    good = retargeter.retarget(MotionChunk(joints[:8], 0, 30.0, "hand21", record.agents),
                               (1, 0))
    # The right hand mirrored about its wrist (a left hand where a right one should be): the
    # streamer holds the last good pose of that hand instead of raising or driving it.
    wrist = joints[8:, 1, :1]
    joints[8:, 1] = wrist + (joints[8:, 1] - wrist) * np.array([1.0, -1.0, 1.0])
    bad = retargeter.retarget(MotionChunk(joints[8:], 8, 30.0, "hand21", record.agents), (1, 0))
    assert (bad.status == "held").all()
    right = [i for i, n in enumerate(two_hands.joint_names) if n.startswith("right/")]
    left = [i for i, n in enumerate(two_hands.joint_names) if n.startswith("left/")]
    np.testing.assert_allclose(bad.qpos[:, right], np.repeat(good.qpos[-1:, right], 8, axis=0))
    assert np.ptp(bad.qpos[:, left], axis=0).max() > 0   # the left hand goes on moving


def test_chunk_retargeter_keeps_a_fast_stream_to_the_gate_speed_limits(two_hands):
    """Fingers counting three times too fast: without limits the stream exceeds the Inspire
    finger speed (4.54 rad/s) and the gate would block it; with the gate's limits every joint
    stays within ``velocity_margin`` of its limit across chunk boundaries, mimic couplings
    stay exact, the slowed frames say ``clamped``, and the streaming gate passes the speeds."""
    from dyad.sim.gate import StreamingValidator
    from dyad.sim.thresholds import default_thresholds

    fast = _fingers_clip().joints[::3]
    limits = default_thresholds().time_scaling_config()

    def stream(retargeter):
        out = []
        for start in range(0, 40, 8):
            chunk = MotionChunk(fast[start:start + 8], start, 30.0, "hand21", ("left", "right"))
            out.append(retargeter.retarget(chunk, (1, 0)))
        return out

    free = np.concatenate([c.qpos for c in stream(ChunkRetargeter(two_hands))])
    chunks = stream(ChunkRetargeter(two_hands, speed_limits=limits))
    limited = np.concatenate([c.qpos for c in chunks])
    names = two_hands.joint_names
    index = names.index("right/joint_r_index_proximal")
    assert (np.abs(np.diff(free[:, index])) * 30).max() > 4.54
    speed = np.abs(np.diff(limited, axis=0)) * 30.0
    for j, name in enumerate(names):
        robot = dict(two_hands.instances)[name.split("/")[0]]
        limit = limits.joint_limit(robot, name.split("/")[1], False)
        assert speed[:, j].max() <= limits.velocity_margin * limit * 1.07 + 1e-9, name
    for instance, _ in two_hands.instances:
        for follower, leader, mult, offset in two_hands.robots[instance].mimic:
            np.testing.assert_allclose(
                limited[:, names.index(f"{instance}/{follower}")],
                mult * limited[:, names.index(f"{instance}/{leader}")] + offset, atol=1e-9)
    status = np.concatenate([c.status for c in chunks])
    assert (status == "clamped").any() and set(status) <= {"ok", "clamped"}
    validator = StreamingValidator()
    for chunk in chunks:
        report = validator.check(chunk)
        assert not report.of_kind("joint_velocity_limit"), report.describe()
