"""When each checked frame is due: the clock of playback, free of ROS.

A stream is identified by its stamp (the time its command was received); a newer stream
preempts the current one, an older one is ignored. Frame ``f`` of the current stream is due at
``frame0_time_s + f / fps``, where ``frame0_time_s`` is set when the stream's first chunk
arrives, so playback starts at once. A chunk that arrives after its first frame was due is an
*underrun*: the timeline shifts so that the chunk plays from its arrival (no frame is skipped)
and the underrun is counted. A chunk that does not continue the stream (a gap: the gate
rejected the chunk before it) stops the stream for good.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

StreamId = tuple[int, int]
"""(sec, nanosec) of the stream's stamp."""


@dataclass
class CheckedChunk:
    """Frames ``[start_frame, start_frame + T)`` of a checked stream.

    Attributes:
        stream: the stream's id (its stamp).
        start_frame: frame number of row 0 in the stream.
        qpos: (T, N) joint positions, the playback's joint order.
        fps: frames per second.
    """

    stream: StreamId
    start_frame: int
    qpos: np.ndarray
    fps: float

    @property
    def end_frame(self) -> int:
        return self.start_frame + int(self.qpos.shape[0])


class PlaybackSchedule:
    """The queue of checked chunks of the current stream and the time each frame is due.

    Args:
        late_tolerance_s: a chunk counts as late when its first frame was due more than this
            long before it arrived.
    """

    def __init__(self, late_tolerance_s: float = 0.005):
        self.late_tolerance_s = float(late_tolerance_s)
        self.stream: StreamId | None = None
        self.frame0_time_s = 0.0
        self.fps = 30.0
        self.queue: deque[CheckedChunk] = deque()
        self.next_frame = 0
        self.stopped = False
        """True after a gap, an e-stop or a preemption by teleop: the stream gets no more
        frames."""
        self.ended = False
        """True once the stream's end marker came: running out of frames is then the end, not
        starvation."""
        self.underruns = 0
        self.max_late_s = 0.0
        self.chunks_accepted = 0
        self._last_row: np.ndarray | None = None
        self._last_row_frame = -1

    def push(self, chunk: CheckedChunk, now_s: float) -> str:
        """Queue a chunk; returns what happened: ``started``, ``queued``, ``late``, ``old
        stream``, ``stopped stream`` or ``gap``."""
        if self.stream is not None and chunk.stream < self.stream:
            return "old stream"
        if chunk.stream != self.stream:
            self.stream = chunk.stream
            self.fps = float(chunk.fps)
            self.frame0_time_s = now_s - chunk.start_frame / self.fps
            self.queue = deque([chunk])
            self.next_frame = chunk.end_frame
            self.stopped = False
            self.ended = False
            self.chunks_accepted += 1
            return "started"
        if self.stopped:
            return "stopped stream"
        if chunk.start_frame != self.next_frame:
            self.stop()
            return "gap"
        due_s = self.frame0_time_s + chunk.start_frame / self.fps
        late_s = now_s - due_s
        self.queue.append(chunk)
        self.next_frame = chunk.end_frame
        self.chunks_accepted += 1
        if late_s > self.late_tolerance_s:
            self.underruns += 1
            self.max_late_s = max(self.max_late_s, late_s)
            self.frame0_time_s += late_s
            return "late"
        return "queued"

    def end(self, stream: StreamId) -> bool:
        """The end marker of ``stream`` came; returns whether it is the current stream."""
        if stream == self.stream:
            self.ended = True
        return stream == self.stream

    def stop(self) -> None:
        """Drop every queued frame; the current stream gets no more frames."""
        self.queue.clear()
        self.stopped = True

    def due_time_s(self, frame: int) -> float:
        """Wall time at which ``frame`` of the current stream is due."""
        return self.frame0_time_s + frame / self.fps

    def pop_due_chunks(self, now_s: float) -> list[CheckedChunk]:
        """Chunks whose first frame is due at ``now_s`` (for trajectory controllers, which take
        a whole chunk and interpolate it themselves)."""
        out = []
        while self.queue and self.due_time_s(self.queue[0].start_frame) <= now_s:
            out.append(self.queue.popleft())
        return out

    def position_at(self, now_s: float) -> np.ndarray | None:
        """Joint positions due at ``now_s``, linearly interpolated between frames (for position
        controllers); the last frame when the queue ran dry; None before any frame."""
        if self.stream is None:
            return None
        f = (now_s - self.frame0_time_s) * self.fps
        while self.queue and self.queue[0].end_frame - 1 < int(np.floor(f)):
            done = self.queue.popleft()
            self._last_row, self._last_row_frame = done.qpos[-1], done.end_frame - 1
        if not self.queue:
            return None if self._last_row is None else self._last_row.copy()
        chunk = self.queue[0]
        k = f - chunk.start_frame
        if k < 0:
            if self._last_row is not None and self._last_row_frame == chunk.start_frame - 1:
                return self._last_row + (k + 1.0) * (chunk.qpos[0] - self._last_row)
            return chunk.qpos[0].copy()
        i = int(np.floor(k))
        a = k - i
        if i + 1 < chunk.qpos.shape[0]:
            return (1.0 - a) * chunk.qpos[i] + a * chunk.qpos[i + 1]
        nxt = self.queue[1] if len(self.queue) > 1 else None
        if nxt is not None and nxt.start_frame == chunk.end_frame:
            return (1.0 - a) * chunk.qpos[i] + a * nxt.qpos[0]
        return chunk.qpos[i].copy()

    def frames_left_s(self, now_s: float) -> float:
        """Seconds of queued motion after ``now_s`` (negative: how long ago it ran out)."""
        if self.stream is None:
            return float("-inf")
        return self.due_time_s(self.next_frame) - now_s if not self.stopped else float("-inf")
