"""Remote generation over ZeroMQ: ``dyad serve`` on a GPU box, :class:`RemoteGenerator` anywhere.

The generator often runs on a machine that is not the robot's. :class:`GeneratorServer` serves a
:class:`~dyad.generator.streaming.MotionGenerator` on a ZeroMQ ROUTER socket (127.0.0.1 unless
told otherwise); :class:`RemoteGenerator` is a DEALER client whose ``stream()`` has the same
contract as ``MotionGenerator.stream()``: bad input raises before the first chunk, then
:class:`~dyad.motion.MotionChunk` objects arrive as they are made.

Protocol (every message: one JSON header frame, plus one payload frame for chunks; no pickles):

==============  ================  ============================================================
from            ``type``          fields
==============  ================  ============================================================
client          ``hello``         -> server answers ``hello`` with ``info`` (modes, device, ...)
client          ``generate``      ``id``, ``text``, ``mode``, ``seconds``, ``seed``,
                                  ``agent_texts``, ``sampling``, ``credit``
client          ``credit``        ``id``, ``n``: the client can take ``n`` more chunks
client          ``cancel``        ``id``
server          ``accepted``      ``id``, ``mode``, ``num_frames``, ``seed``
server          ``chunk``         ``id``, ``index``, ``start_frame``, ``is_last``, ``shape``,
                                  ``fps``, ``skeleton``, ``agents``, ``text`` + float32 payload
server          ``error``         ``id``, ``kind`` (``input``, ``generator``, ``busy``,
                                  ``protocol``), ``message``
==============  ================  ============================================================

Back-pressure is credit based: the server sends a stream's next chunk only while the client has
credit (``window`` chunks at the start, one more per chunk consumed), so a slow consumer slows
the server instead of filling memory. A stream whose client grants no credit for
``idle_timeout_s`` (a client that died) is dropped. A client that hears nothing for
``timeout_s`` raises :class:`RemoteGeneratorError` naming the endpoint instead of hanging.

There is no authentication or encryption: bind 127.0.0.1 (the default) and reach a remote GPU
box through an SSH tunnel (``ssh -L 5555:127.0.0.1:5555 gpu-box``).
"""

from __future__ import annotations

import ipaddress
import json
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np

from dyad.errors import DyadError, DyadInputError
from dyad.motion import MotionChunk

PROTOCOL_VERSION = 1
DEFAULT_ENDPOINT = "tcp://127.0.0.1:5555"
MAX_REQUEST_BYTES = 65536


class RemoteGeneratorError(DyadError):
    """The remote generator is unreachable, too slow, or failed while generating."""


class RemoteGeneratorBusy(RemoteGeneratorError):
    """The server already serves as many streams as it allows."""


def check_endpoint(endpoint: str) -> str:
    """``endpoint`` if it is ``tcp://HOST:PORT`` (PORT may be ``*`` for binding), else
    :class:`DyadInputError`."""
    if not isinstance(endpoint, str) or not endpoint.startswith("tcp://"):
        raise DyadInputError(f"endpoint {endpoint!r}: expected tcp://HOST:PORT, e.g. "
                             f"{DEFAULT_ENDPOINT}")
    host, sep, port = endpoint[len("tcp://"):].rpartition(":")
    if not sep or not host or not (port == "*" or (port.isdigit() and 0 < int(port) < 65536)):
        raise DyadInputError(f"endpoint {endpoint!r}: expected tcp://HOST:PORT with a port "
                             "1-65535")
    return endpoint


def is_loopback(endpoint: str) -> bool:
    """True when a ``tcp://`` endpoint's host is a loopback address (or ``localhost``)."""
    host = endpoint[len("tcp://"):].rpartition(":")[0].strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _send(socket, header: dict, payload: bytes | None = None, identity: bytes | None = None):
    import zmq

    frames = [] if identity is None else [identity]
    frames.append(json.dumps(header).encode("utf-8"))
    if payload is not None:
        frames.append(payload)
    socket.send_multipart(frames, flags=zmq.NOBLOCK if identity is not None else 0,
                          copy=payload is None)


# ============================================================================== server

@dataclass
class _Stream:
    identity: bytes
    request_id: str
    chunks: Iterator[MotionChunk]
    credit: int
    last_credit_s: float = field(default_factory=time.monotonic)


class GeneratorServer:
    """Serves a generator's streams to ZeroMQ clients, one chunk at a time (round robin).

    Args:
        generator: a loaded :class:`~dyad.generator.streaming.MotionGenerator` (anything with
            ``prepare(...)`` and ``stream_request(request)``).
        bind: ``tcp://HOST:PORT`` to bind (``PORT`` may be ``*`` for any free port).
        idle_timeout_s: drop a stream whose client granted no credit for this long.
        max_streams: streams served at once; more are refused with a ``busy`` error.
        info: extra fields for the ``hello`` answer.
    """

    def __init__(self, generator, bind: str = DEFAULT_ENDPOINT, idle_timeout_s: float = 30.0,
                 max_streams: int = 8, info: dict | None = None):
        import zmq

        check_endpoint(bind)
        self.generator = generator
        self.idle_timeout_s = float(idle_timeout_s)
        self.max_streams = int(max_streams)
        self._ctx = zmq.Context()
        self.socket = self._ctx.socket(zmq.ROUTER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.setsockopt(zmq.MAXMSGSIZE, MAX_REQUEST_BYTES)
        try:
            self.socket.bind(bind)
        except zmq.ZMQError as exc:
            self.close()
            raise DyadInputError(f"cannot bind {bind}: {exc}") from None
        self.endpoint = self.socket.getsockopt_string(zmq.LAST_ENDPOINT)
        self._streams: OrderedDict[str, _Stream] = OrderedDict()
        self._info = {"protocol": PROTOCOL_VERSION, **(info or {})}
        self.requests_served = 0

    def close(self) -> None:
        """Close the socket (streams in progress end; clients time out)."""
        self._streams.clear()
        self.socket.close(linger=0)
        self._ctx.term()

    def serve_forever(self, stop=None, poll_s: float = 0.1) -> None:
        """Serve until ``stop`` (a ``threading.Event``) is set or the process is interrupted."""
        while stop is None or not stop.is_set():
            self.serve_once(poll_s)

    def serve_once(self, poll_s: float = 0.1) -> None:
        """Handle waiting requests, then send at most one chunk of each stream with credit."""
        import zmq

        ready = any(s.credit > 0 for s in self._streams.values())
        if self.socket.poll(0 if ready else int(poll_s * 1000), zmq.POLLIN):
            while True:
                try:
                    frames = self.socket.recv_multipart(zmq.NOBLOCK)
                except zmq.Again:
                    break
                self._handle(frames)
        for request_id in list(self._streams):
            stream = self._streams.get(request_id)
            if stream is not None and stream.credit > 0:
                self._send_next(stream)
        now = time.monotonic()
        for request_id, stream in list(self._streams.items()):
            if stream.credit <= 0 and now - stream.last_credit_s > self.idle_timeout_s:
                del self._streams[request_id]  # its client stopped reading: likely gone

    def _reply(self, identity: bytes, header: dict, payload: bytes | None = None) -> None:
        import zmq

        try:
            _send(self.socket, header, payload, identity)
        except zmq.Again:  # the client's queue is full: it is not reading; it will time out
            pass

    def _error(self, identity: bytes, request_id, kind: str, message: str) -> None:
        self._reply(identity, {"type": "error", "id": request_id, "kind": kind,
                               "message": message})

    def _handle(self, frames: list[bytes]) -> None:
        identity = frames[0]
        try:
            header = json.loads(frames[-1].decode("utf-8"))
            if not isinstance(header, dict):
                raise ValueError("not an object")
        except (ValueError, UnicodeDecodeError) as exc:
            self._error(identity, None, "protocol", f"request is not a JSON object ({exc})")
            return
        kind, request_id = header.get("type"), header.get("id")
        if kind == "hello":
            self._reply(identity, {"type": "hello", "info": self._info})
        elif kind == "generate":
            self._start(identity, request_id, header)
        elif kind == "credit":
            stream = self._streams.get(str(request_id))
            if stream is not None and stream.identity == identity:
                stream.credit += max(0, int(header.get("n", 1)))
                stream.last_credit_s = time.monotonic()
        elif kind == "cancel":
            stream = self._streams.get(str(request_id))
            if stream is not None and stream.identity == identity:
                del self._streams[str(request_id)]
        else:
            self._error(identity, request_id, "protocol", f"unknown request type {kind!r}")

    def _start(self, identity: bytes, request_id, header: dict) -> None:
        if not isinstance(request_id, str) or not request_id or request_id in self._streams:
            self._error(identity, request_id, "protocol", "generate needs a new string 'id'")
            return
        if len(self._streams) >= self.max_streams:
            self._error(identity, request_id, "busy", f"the server already serves "
                                                      f"{self.max_streams} streams")
            return
        try:
            sampling = header.get("sampling") or {}
            if not isinstance(sampling, dict) or set(sampling) - {"steps", "guidance",
                                                                  "noise_scale"}:
                raise DyadInputError("sampling takes steps, guidance and noise_scale")
            request = self.generator.prepare(
                header.get("text"), header.get("mode", "auto"), header.get("seconds", 4.0),
                header.get("seed"), header.get("agent_texts") or None, **sampling)
            chunks = self.generator.stream_request(request)
        except DyadInputError as exc:
            self._error(identity, request_id, "input", str(exc))
            return
        except Exception as exc:  # noqa: BLE001 - one request must not stop the server
            self._error(identity, request_id, "generator", f"{type(exc).__name__}: {exc}")
            return
        credit = max(1, int(header.get("credit", 4)))
        self._streams[request_id] = _Stream(identity, request_id, chunks, credit)
        self.requests_served += 1
        self._reply(identity, {"type": "accepted", "id": request_id, "mode": request.mode,
                               "num_frames": request.num_frames, "seed": request.seed})

    def _send_next(self, stream: _Stream) -> None:
        try:
            chunk = next(stream.chunks)
        except StopIteration:
            self._streams.pop(stream.request_id, None)
            return
        except Exception as exc:  # noqa: BLE001 - e.g. NonFiniteMotionError: tell the client
            self._streams.pop(stream.request_id, None)
            self._error(stream.identity, stream.request_id, "generator",
                        f"{type(exc).__name__}: {exc}")
            return
        joints = np.ascontiguousarray(chunk.joints, dtype=np.float32)
        header = {"type": "chunk", "id": stream.request_id, "index": chunk.index,
                  "start_frame": chunk.start_frame, "is_last": chunk.is_last,
                  "shape": list(joints.shape), "fps": chunk.fps, "skeleton": chunk.skeleton,
                  "agents": list(chunk.agents), "text": chunk.text}
        stream.credit -= 1
        if chunk.is_last:
            self._streams.pop(stream.request_id, None)
        self._reply(stream.identity, header, joints.tobytes())


# ============================================================================== client

class RemoteGenerator:
    """A client of ``dyad serve`` with ``MotionGenerator.stream``'s contract.

    Not thread safe: use one client per thread. One stream at a time: starting a stream
    cancels the one before it.

    Args:
        endpoint: ``tcp://HOST:PORT`` of the server.
        timeout_s: the longest wait for any answer (accepted, each chunk) before giving up.
        window: chunks the server may send ahead of the consumer (back-pressure).
    """

    def __init__(self, endpoint: str = DEFAULT_ENDPOINT, timeout_s: float = 5.0, window: int = 4):
        import zmq

        self.endpoint = check_endpoint(endpoint)
        if "*" in endpoint:
            raise DyadInputError(f"endpoint {endpoint!r}: a client needs a port number")
        if not timeout_s > 0:
            raise DyadInputError(f"timeout_s must be > 0, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.window = max(1, int(window))
        self._ctx = zmq.Context()
        self.socket = self._ctx.socket(zmq.DEALER)
        self.socket.setsockopt(zmq.LINGER, 0)
        self.socket.connect(endpoint)
        self._active: str | None = None

    def close(self) -> None:
        self._cancel_active()
        self.socket.close(linger=0)
        self._ctx.term()

    def __enter__(self) -> "RemoteGenerator":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _send(self, header: dict) -> None:
        import zmq

        if not self.socket.poll(int(self.timeout_s * 1000), zmq.POLLOUT):
            raise RemoteGeneratorError(f"cannot send to the generator at {self.endpoint} "
                                       f"within {self.timeout_s:g} s")
        _send(self.socket, header)

    def _recv(self, request_id: str | None, what: str) -> tuple[dict, bytes | None]:
        """The next message for ``request_id`` (others, left from cancelled streams, are
        dropped), or :class:`RemoteGeneratorError` after ``timeout_s``."""
        import zmq

        deadline = time.monotonic() + self.timeout_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not self.socket.poll(int(left * 1000) + 1, zmq.POLLIN):
                raise RemoteGeneratorError(
                    f"no {what} from the generator at {self.endpoint} within "
                    f"{self.timeout_s:g} s (is `dyad serve --bind {self.endpoint}` running "
                    "and reachable?)")
            frames = self.socket.recv_multipart()
            try:
                header = json.loads(frames[0].decode("utf-8"))
            except (ValueError, UnicodeDecodeError):
                continue
            if request_id is None or header.get("id") == request_id:
                return header, (frames[1] if len(frames) > 1 else None)

    def hello(self) -> dict:
        """The server's description (modes, device, checkpoint); raises
        :class:`RemoteGeneratorError` when no server answers within ``timeout_s``."""
        self._send({"type": "hello"})
        while True:
            header, _ = self._recv(None, "answer to hello")
            if header.get("type") == "hello":
                return dict(header.get("info") or {})

    def _cancel_active(self) -> None:
        if self._active is not None:
            try:
                import zmq
                _send(self.socket, {"type": "cancel", "id": self._active})
            except (RemoteGeneratorError, zmq.ZMQError):
                pass
            self._active = None

    def stream(self, text, mode: str = "auto", seconds: float = 4.0, seed: int | None = None,
               agent_texts: dict | None = None, **sampling) -> Iterator[MotionChunk]:
        """Ask the server for a motion; bad input raises here, chunks come as made.

        Raises:
            DyadInputError: the server refused the request (the message is the server's).
            RemoteGeneratorError: no answer within ``timeout_s``, the server is busy, or it
                failed (later, while iterating, for a chunk that does not come).
        """
        self._cancel_active()
        if isinstance(text, (bytes, bytearray)):
            text = bytes(text).decode("utf-8", "surrogateescape")
        request_id = uuid.uuid4().hex
        self._send({"type": "generate", "id": request_id, "text": text, "mode": mode,
                    "seconds": seconds, "seed": seed, "agent_texts": agent_texts or {},
                    "sampling": sampling, "credit": self.window})
        self._active = request_id
        header, _ = self._recv(request_id, "answer to the request")
        if header.get("type") == "error":
            self._active = None
            self._raise(header)
        if header.get("type") != "accepted":
            self._cancel_active()
            raise RemoteGeneratorError(f"unexpected answer {header.get('type')!r} from "
                                       f"{self.endpoint}")
        return self._chunks(request_id)

    def _raise(self, header: dict) -> None:
        kind, message = header.get("kind"), str(header.get("message", ""))
        if kind == "input":
            raise DyadInputError(message)
        if kind == "busy":
            raise RemoteGeneratorBusy(f"generator at {self.endpoint} is busy: {message}")
        raise RemoteGeneratorError(f"generator at {self.endpoint} failed: {message}")

    def _chunks(self, request_id: str) -> Iterator[MotionChunk]:
        finished = False
        try:
            while True:
                header, payload = self._recv(request_id, "chunk")
                if header.get("type") == "error":
                    finished = True
                    self._active = None
                    self._raise(header)
                if header.get("type") != "chunk" or payload is None:
                    continue
                try:
                    shape = tuple(int(v) for v in header["shape"])
                    joints = np.frombuffer(payload, dtype=np.float32).reshape(shape)
                    chunk = MotionChunk(
                        joints=joints.copy(), start_frame=int(header["start_frame"]),
                        fps=float(header["fps"]), skeleton=str(header["skeleton"]),
                        agents=tuple(header["agents"]), index=int(header["index"]),
                        is_last=bool(header["is_last"]), text=str(header.get("text", "")))
                except (KeyError, TypeError, ValueError) as exc:
                    raise RemoteGeneratorError(f"malformed chunk from {self.endpoint}: "
                                               f"{exc}") from None
                if chunk.is_last:
                    finished = True
                    self._active = None
                yield chunk
                if finished:
                    return
                # Credit for one more only once this chunk was consumed: back-pressure.
                self._send({"type": "credit", "id": request_id, "n": 1})
        finally:
            if not finished and self._active == request_id:
                self._cancel_active()
