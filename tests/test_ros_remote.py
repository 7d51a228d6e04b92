"""Remote generation over ZeroMQ (generator/remote.py, ``dyad serve``) on a tiny checkpoint:
same chunks as in process, errors carried back, back-pressure, dead and slow servers."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time

import numpy as np
import pytest

from dyad.cli import main
from dyad.errors import DyadInputError
from dyad.generator.remote import (DEFAULT_ENDPOINT, GeneratorServer, RemoteGenerator,
                                   RemoteGeneratorBusy, RemoteGeneratorError, check_endpoint,
                                   is_loopback)
from ros_tiny_generator import shared_tiny_checkpoint


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return shared_tiny_checkpoint(tmp_path_factory)


@pytest.fixture(scope="module")
def generator(checkpoint):
    from dyad.generator.streaming import MotionGenerator

    return MotionGenerator(checkpoint, device="cpu")


class CountingGenerator:
    """Wraps a generator: counts chunks pulled from each stream, optionally slowly."""

    def __init__(self, generator, delay_s: float = 0.0):
        self.generator = generator
        self.delay_s = delay_s
        self.pulled = 0

    def prepare(self, *args, **kwargs):
        return self.generator.prepare(*args, **kwargs)

    def stream_request(self, request):
        for chunk in self.generator.stream_request(request):
            if self.delay_s:
                time.sleep(self.delay_s)
            self.pulled += 1
            yield chunk


def _serve(gen, **kwargs):
    server = GeneratorServer(gen, "tcp://127.0.0.1:*", **kwargs)
    stop = threading.Event()
    thread = threading.Thread(target=server.serve_forever, args=(stop, 0.02), daemon=True)
    thread.start()
    return server, stop, thread


@pytest.fixture
def served(generator):
    counting = CountingGenerator(generator)
    server, stop, thread = _serve(counting, info={"modes": ["duet", "bimanual"]})
    yield server, counting
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_remote_stream_matches_the_local_generator(served, generator):
    server, _ = served
    assert server.endpoint.startswith("tcp://127.0.0.1:")
    with RemoteGenerator(server.endpoint, timeout_s=5.0) as client:
        assert client.hello()["modes"] == ["duet", "bimanual"]
        remote = list(client.stream("the hands clap", mode="bimanual", seconds=1.5, seed=4))
    local = list(generator.stream("the hands clap", mode="bimanual", seconds=1.5, seed=4))
    assert [c.index for c in remote] == [c.index for c in local]
    assert [c.start_frame for c in remote] == [c.start_frame for c in local]
    assert [c.is_last for c in remote] == [False] * (len(local) - 1) + [True]
    assert remote[0].agents == ("left", "right") and remote[0].skeleton == "hand21"
    for a, b in zip(remote, local):
        np.testing.assert_array_equal(a.joints, b.joints)


def test_bad_input_comes_back_as_input_error_and_the_server_keeps_serving(served):
    server, _ = served
    with RemoteGenerator(server.endpoint, timeout_s=5.0) as client:
        with pytest.raises(DyadInputError, match="empty"):
            client.stream("   ", mode="bimanual")
        with pytest.raises(DyadInputError, match="seconds"):
            client.stream("wave", mode="bimanual", seconds=-1)
        with pytest.raises(DyadInputError, match="mode"):
            client.stream("wave", mode="tango")
        assert len(list(client.stream("wave", mode="duet", seconds=0.5, seed=1))) == 2


def test_back_pressure_keeps_the_server_at_most_a_window_ahead(served):
    server, counting = served
    with RemoteGenerator(server.endpoint, timeout_s=5.0, window=2) as client:
        chunks = client.stream("both hands wave", mode="bimanual", seconds=4.0, seed=2)
        next(chunks)
        time.sleep(0.5)  # time enough for an unthrottled server to make all 15 chunks
        assert counting.pulled <= 3   # the consumed one + a window of 2
        rest = list(chunks)
    assert 1 + len(rest) == 15 and rest[-1].is_last


def test_closing_a_stream_cancels_it_on_the_server(served):
    server, counting = served
    with RemoteGenerator(server.endpoint, timeout_s=5.0, window=1) as client:
        chunks = client.stream("both hands wave", mode="bimanual", seconds=4.0, seed=2)
        next(chunks)
        chunks.close()
        deadline = time.monotonic() + 5
        while server._streams and time.monotonic() < deadline:
            time.sleep(0.02)
        assert not server._streams
        # a new stream on the same client is unaffected by the cancelled one's leftovers
        again = list(client.stream("wave", mode="bimanual", seconds=0.5, seed=3))
        assert [c.index for c in again] == [0, 1] and again[-1].is_last


def test_a_new_stream_replaces_the_previous_one(served):
    server, _ = served
    with RemoteGenerator(server.endpoint, timeout_s=5.0) as client:
        first = client.stream("wave", mode="duet", seconds=3.0, seed=1)
        next(first)
        second = list(client.stream("clap", mode="bimanual", seconds=0.5, seed=1))
        assert all(c.agents == ("left", "right") for c in second)


def test_busy_server_refuses_more_streams(generator):
    server, stop, thread = _serve(CountingGenerator(generator), max_streams=1)
    try:
        with RemoteGenerator(server.endpoint, timeout_s=5.0, window=1) as a, \
                RemoteGenerator(server.endpoint, timeout_s=5.0) as b:
            it = a.stream("wave", mode="bimanual", seconds=4.0, seed=1)
            next(it)
            with pytest.raises(RemoteGeneratorBusy, match="busy"):
                b.stream("clap", mode="bimanual", seconds=1.0)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_dead_server_is_a_clear_error_not_a_hang():
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with RemoteGenerator(f"tcp://127.0.0.1:{port}", timeout_s=0.3) as client:
        with pytest.raises(RemoteGeneratorError, match=f"127.0.0.1:{port}.*dyad serve"):
            client.hello()
        with pytest.raises(RemoteGeneratorError, match="no answer"):
            client.stream("wave", mode="bimanual")


def test_slow_server_times_out_with_a_clear_error(generator):
    slow = CountingGenerator(generator, delay_s=1.0)
    server, stop, thread = _serve(slow)
    try:
        with RemoteGenerator(server.endpoint, timeout_s=0.3) as client:
            chunks = client.stream("wave", mode="bimanual", seconds=1.0, seed=1)
            with pytest.raises(RemoteGeneratorError, match="no chunk .* within 0.3 s"):
                next(chunks)
    finally:
        stop.set()
        thread.join(timeout=5)
        server.close()


def test_garbage_requests_get_a_protocol_error(served):
    import zmq

    server, _ = served
    ctx = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(server.endpoint)
    try:
        for garbage in (b"\xff\xfe not json", b"[1, 2]", json.dumps({"type": "dance"}).encode(),
                        json.dumps({"type": "generate", "id": 7}).encode()):
            sock.send(garbage)
            assert sock.poll(5000)
            reply = json.loads(sock.recv())
            assert reply["type"] == "error" and reply["kind"] == "protocol"
    finally:
        sock.close()
        ctx.term()
    with RemoteGenerator(server.endpoint, timeout_s=5.0) as client:
        assert client.hello()


def test_endpoints_default_to_loopback_and_are_checked():
    assert is_loopback(DEFAULT_ENDPOINT)
    assert is_loopback("tcp://localhost:5555") and is_loopback("tcp://[::1]:5555")
    assert not is_loopback("tcp://0.0.0.0:5555") and not is_loopback("tcp://10.1.2.3:5555")
    assert check_endpoint("tcp://127.0.0.1:*")
    for bad in ("127.0.0.1:5555", "tcp://127.0.0.1", "tcp://127.0.0.1:70000", "ipc:///tmp/x"):
        with pytest.raises(DyadInputError, match="tcp://HOST:PORT"):
            check_endpoint(bad)
    with pytest.raises(DyadInputError, match="port number"):
        RemoteGenerator("tcp://127.0.0.1:*")


def test_dyad_serve_rejects_a_bad_bind(capsys):
    assert main(["serve", "--bind", "udp://127.0.0.1:1"]) == 2
    assert "tcp://HOST:PORT" in capsys.readouterr().err


@pytest.mark.slow
def test_dyad_serve_serves_a_client(checkpoint):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    endpoint = f"tcp://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "dyad.cli", "serve", "--bind", endpoint,
                             "--checkpoint", str(checkpoint), "--device", "cpu"],
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ))
    try:
        assert "serving" in proc.stderr.readline()
        with RemoteGenerator(endpoint, timeout_s=10.0) as client:
            info = client.hello()
            assert info["device"] == "cpu" and info["chunk_frames"] == 8
            chunks = list(client.stream("the hands clap", mode="bimanual", seconds=1.0, seed=0))
            assert sum(c.num_frames for c in chunks) == 30
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            _, err = proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()  # never leave a server behind
            _, err = proc.communicate()
            raise AssertionError(f"dyad serve ignored SIGINT: {err}") from None
    assert proc.returncode == 0, err
    assert "stopped after 1 request" in err


@pytest.mark.slow
def test_dyad_serve_stops_on_sigint_even_when_started_with_it_ignored(checkpoint):
    """A background job of a shell script starts with SIGINT ignored; Ctrl-C (SIGINT) must
    still stop the server cleanly."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen([sys.executable, "-m", "dyad.cli", "serve", "--bind",
                             f"tcp://127.0.0.1:{port}", "--checkpoint", str(checkpoint),
                             "--device", "cpu"],
                            stderr=subprocess.PIPE, text=True, env=dict(os.environ),
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert "serving" in proc.stderr.readline()
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert "stopped after 0 request" in err
