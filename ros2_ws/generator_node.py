"""generator_node: ``/dyad/command`` text in, human motion chunks out as they are made.

Subscribes ``/dyad/command`` (std_msgs/String: plain text or a JSON object, see
``command_message.py``); publishes ``/dyad/human_motion``
(trajectory_msgs/MultiDOFJointTrajectory, one point per frame, joint names ``AGENT/JOINT``; a
message without points ends the stream) and ``/dyad/human_markers``
(visualization_msgs/MarkerArray). The model runs in this process (CUDA
when present, else CPU) or, with ``remote_endpoint`` set, in a ``dyad serve`` process.

Generation runs on a worker thread so commands keep arriving: a new command preempts the stream
in progress between two chunks (the old stream simply stops; its stamp is older, so downstream
nodes drop anything left of it). The worker stays at most ``max_lead_s`` of motion ahead of real
time, so a long motion does not flood the graph and a preempted one wastes little.

Without a usable model (no checkpoint yet, a dead server) the node stays up, reports the reason
on ``/dyad/status`` for every command and retries loading on the next one; it never publishes
made-up motion.
"""

from __future__ import annotations

import threading
import time

from std_msgs.msg import String
from trajectory_msgs.msg import MultiDOFJointTrajectory
from visualization_msgs.msg import MarkerArray

from dyad.errors import DyadError

from .command_message import GenerationCommand, parse_command
from .conversions import end_marker, motion_chunk_to_msg, skeleton_markers
from .node_base import CHUNK_QOS, ERROR, EVENT_QOS, OK, DyadNode, run_node


class GeneratorNode(DyadNode):
    """See the module docstring."""

    def __init__(self):
        super().__init__("dyad_generator")
        self.mode = self.param("mode", "auto", "auto, duet or bimanual (a command may override)")
        self.seconds = self.param("seconds", 4.0, "duration when a command names none")
        self.seed = self.param("seed", -1, "noise seed when a command names none (-1: random)")
        self.device = self.param("device", "auto", "auto, cpu, cuda or cuda:N")
        self.checkpoint = self.param("checkpoint", "", "generator checkpoint ('' = packaged)")
        self.remote_endpoint = self.param("remote_endpoint", "",
                                          "tcp://HOST:PORT of `dyad serve` ('' = in process)")
        self.remote_timeout_s = self.param("remote_timeout_s", 5.0, "remote answer timeout")
        self.frame_id = self.param("frame_id", "world", "frame of the joint positions")
        self.markers = self.param("markers", True, "publish /dyad/human_markers")
        self.max_lead_s = self.param("max_lead_s", 2.0,
                                     "stay at most this far ahead of real time (0 = no limit)")
        self.cpu_threads = self.param("cpu_threads", 1, "torch threads on a CPU")
        self.warm_up = self.param("warm_up", True, "run the model once before the first command")

        self.motion_pub = self.create_publisher(MultiDOFJointTrajectory, "/dyad/human_motion",
                                                CHUNK_QOS)
        self.marker_pub = self.create_publisher(MarkerArray, "/dyad/human_markers", EVENT_QOS)
        self.create_subscription(String, "/dyad/command",
                                 self.guard(self.on_command, "command"), EVENT_QOS)
        self._generator = None
        self._load_error = ""
        self._pending: tuple[GenerationCommand, object, float] | None = None
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._preempt = threading.Event()
        self._stop = threading.Event()
        self._worker = threading.Thread(target=self._work, name="dyad-generator", daemon=True)
        self.set_state("loading")
        self._worker.start()

    # -------------------------------------------------------------------- model

    def _load(self) -> bool:
        """Load the model (or reach the server); report why not."""
        if self._generator is not None:
            return True
        try:
            if self.remote_endpoint:
                from dyad.generator.remote import RemoteGenerator

                client = RemoteGenerator(self.remote_endpoint, self.remote_timeout_s)
                try:
                    info = client.hello()
                except DyadError:
                    client.close()
                    raise
                self._generator = client
                where = (f"remote {self.remote_endpoint} ({info.get('device', '?')}, "
                         f"{info.get('checkpoint', '?')})")
            else:
                from dyad.generator.streaming import MotionGenerator

                gen = MotionGenerator(self.checkpoint or None, self.device,
                                      cpu_threads=self.cpu_threads)
                if self.warm_up:
                    gen.warm_up()
                self._generator = gen
                where = f"{gen.device}, {gen.loaded.path}"
        except Exception as exc:  # noqa: BLE001 - reported; the node waits for the next command
            self._load_error = f"generator unavailable: {exc}"
            self.set_state("error: generator unavailable", self._load_error, level=ERROR)
            return False
        self._load_error = ""
        self.set_state("ready", f"generator ready ({where})", generator=where)
        return True

    # -------------------------------------------------------------------- commands

    def on_command(self, msg: String) -> None:
        seed = None if self.seed < 0 else int(self.seed)
        command = parse_command(msg.data, self.mode, self.seconds)
        if command.seed is None and seed is not None:
            command = GenerationCommand(command.text, command.mode, command.seconds, seed,
                                        command.agent_texts, command.sampling)
        stamp = self.get_clock().now().to_msg()
        with self._lock:
            self._pending = (command, stamp, time.monotonic())
        self._preempt.set()
        self._wake.set()
        self.count("commands")

    def _work(self) -> None:
        self._load()
        while not self._stop.is_set():
            self._wake.wait(0.5)
            with self._lock:
                job, self._pending = self._pending, None
                self._wake.clear()
                self._preempt.clear()
            if job is None:
                continue
            try:
                self._run(*job)
            except Exception as exc:  # noqa: BLE001 - a failed stream must not kill the worker
                self.count("errors")
                self.report(ERROR, f"stream failed: {type(exc).__name__}: {exc}", event="error")
                if self.remote_endpoint:  # reconnect on the next command
                    self._drop_generator()

    def _drop_generator(self) -> None:
        gen, self._generator = self._generator, None
        close = getattr(gen, "close", None)
        if close is not None:
            close()

    def _run(self, command: GenerationCommand, stamp, received_s: float) -> None:
        if not self._load():
            self.count("errors")
            self.report(ERROR, f"command {command.text!r} not run: {self._load_error}",
                        event="error")
            return
        try:
            chunks = self._generator.stream(command.text, command.mode, command.seconds,
                                            command.seed, command.agent_texts,
                                            **command.sampling)
        except DyadError as exc:
            self.count("errors")
            self.report(ERROR, f"command {command.text!r} refused: {exc}", event="error")
            return
        stream = f"{stamp.sec}.{stamp.nanosec:09d}"
        frames = 0
        self.set_state("streaming", f"streaming {command.text!r}", stream=stream)
        for chunk in chunks:
            if self._preempt.is_set():
                chunks.close()
                self.count("preempted")
                self.report(OK, f"stream {stream} preempted after {frames} frames",
                            event="preempted", stream=stream)
                return
            self.motion_pub.publish(motion_chunk_to_msg(chunk, stamp, self.frame_id))
            if self.markers:
                self.marker_pub.publish(skeleton_markers(chunk, stamp, self.frame_id))
            frames += chunk.num_frames
            self.count("chunks")
            if chunk.index == 0:
                self.report(OK, f"first chunk of {stream} after "
                                f"{(time.monotonic() - received_s) * 1000:.0f} ms",
                            event="first_chunk", stream=stream,
                            first_chunk_ms=(time.monotonic() - received_s) * 1000)
            lead_s = frames / chunk.fps - (time.monotonic() - received_s)
            if self.max_lead_s > 0 and lead_s > self.max_lead_s:
                self._preempt.wait(lead_s - self.max_lead_s)
        if frames:
            self.motion_pub.publish(end_marker(MultiDOFJointTrajectory, stamp,
                                               motion_chunk_to_msg(chunk, stamp).joint_names,
                                               self.frame_id))
        self.count("streams")
        self.set_state("ready", f"stream {stream} done: {frames} frames", stream=stream,
                       frames=frames)

    def close(self) -> None:
        self._stop.set()
        self._preempt.set()
        self._wake.set()
        self._worker.join(timeout=5.0)
        self._drop_generator()


def main(args=None) -> int:
    return run_node(GeneratorNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
