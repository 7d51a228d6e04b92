"""``dyad bench``: discovery, the JSON report's keys, stdout discipline, and the timing
statistics that every benchmark shares."""

from __future__ import annotations

import json
import sys
import textwrap

import numpy as np
import pytest

from dyad.bench import cli as bench_cli
from dyad.bench.stats import time_calls, timing_stats
from dyad.cli import main

REPORT_KEYS = {"benchmark", "timestamp", "duration_s", "machine", "params", "results"}
MACHINE_KEYS = {"cpu", "cores", "cores_usable", "memory_gb", "platform", "python", "numpy",
                "torch", "gpu", "dyad", "git_commit", "git_dirty"}
STAT_KEYS = {"n", "mean", "std", "min", "median", "p50", "p95", "p99", "max"}


def _json_report(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    out = capsys.readouterr().out
    report = json.loads(out)  # exactly one JSON document: extra text would make this fail
    assert out.strip().count("\n") == 0
    return report


def test_bench_render_json_has_the_documented_keys(capsys):
    report = _json_report(capsys, ["bench", "render", "--frames", "10", "--size", "160x120",
                                   "--encode", "none", "--json"])
    assert set(report) == REPORT_KEYS
    assert report["benchmark"] == "render"
    assert set(report["machine"]) == MACHINE_KEYS
    assert report["machine"]["python"] == ".".join(map(str, sys.version_info[:3]))
    assert report["machine"]["numpy"] == np.__version__
    assert report["timestamp"].endswith("+00:00")
    assert report["params"]["frames"] == 10 and report["params"]["size"] == "160x120"
    results = report["results"]
    assert results["frames"] == 10 and results["agents"] == 2
    assert results["render_fps"] > 0 and results["render_cpu_fps"] > 0
    assert set(results["frame_ms"]) == STAT_KEYS and results["frame_ms"]["n"] == 10
    assert results["end_to_end_fps"] is None  # --encode none


def test_bench_render_times_the_encoder_too(capsys):
    report = _json_report(capsys, ["bench", "--json", "render", "--frames", "6", "--size",
                                   "96x64", "--skeleton", "hand21", "--encode", "mp4"])
    assert report["results"]["skeleton"] == "hand21"
    assert report["results"]["end_to_end_fps"] > 0
    assert report["results"]["video_bytes"] > 0


def test_bench_without_json_prints_a_table(capsys):
    assert main(["bench", "render", "--frames", "4", "--size", "96x64", "--encode",
                 "none"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("dyad bench render")
    assert "render_fps" in out and "frame_ms.p95" in out and "params:" in out


def test_bench_help_lists_benchmarks_with_their_first_docstring_line(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["bench", "--help"])
    assert exc.value.code == 0
    out = capsys.readouterr().out
    from dyad.bench import render

    first_line = render.__doc__.strip().splitlines()[0]
    assert any(line.split() and line.split()[0] == "render" and first_line in line
               for line in out.splitlines())


@pytest.mark.parametrize("argv", [
    ["bench"], ["bench", "no-such-benchmark"], ["bench", "render", "--frames", "many"],
    ["bench", "render", "--frames", "0"], ["bench", "render", "--no-such-option"],
])
def test_bench_bad_input_exits_2_with_one_line(argv, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("dyad bench: error:") and "\n" not in err


@pytest.fixture
def toy_package(tmp_path, monkeypatch):
    """A package with one benchmark that prints to stdout, a helper and a broken module."""
    package = tmp_path / "toybench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "toy.py").write_text(textwrap.dedent('''
        """``dyad bench toy``: Counts to N.

        Second line is not listed.
        """
        import os
        import numpy as np
        NAME = "toy"

        def add_arguments(parser):
            parser.add_argument("--n", type=int, default=3)

        def run(args):
            print("chatter that must not reach stdout")
            os.system("echo child process chatter")
            return {"count": np.int64(args.n), "mean": np.float64(1.5), "missing": float("nan"),
                    "shape": (2, 3)}
    '''))
    (package / "helper.py").write_text("VALUE = 1\n")
    (package / "broken.py").write_text("import no_such_module_anywhere\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(bench_cli, "PACKAGE", "toybench")
    return package


def test_discovery_finds_benchmarks_skips_helpers_and_reports_broken(toy_package):
    found, broken = bench_cli.discover()
    assert set(found) == {"toy"}
    assert set(broken) == {"broken"} and "no_such_module_anywhere" in broken["broken"]


def test_json_stdout_is_only_the_report_even_when_the_benchmark_prints(toy_package, capfd):
    assert main(["bench", "toy", "--n", "7", "--json"]) == 0
    captured = capfd.readouterr()
    report = json.loads(captured.out)
    assert report["results"] == {"count": 7, "mean": 1.5, "missing": None, "shape": [2, 3]}
    assert report["params"] == {"n": 7}
    assert "chatter that must not reach stdout" in captured.err
    assert "child process chatter" in captured.err


def test_help_lists_the_toy_and_marks_the_broken_module(toy_package, capsys):
    with pytest.raises(SystemExit):
        main(["bench", "-h"])
    out = capsys.readouterr().out
    assert "Counts to N." in out and "Second line" not in out
    assert "``dyad bench toy``" not in out  # the list already shows the name
    assert "broken" in out and "unavailable" in out


# ------------------------------------------------------------------------------ bench.stats


def test_timing_stats_match_numpy_percentiles():
    rng = np.random.default_rng(0)
    samples = rng.exponential(2.0, size=1000)
    stats = timing_stats(samples)
    assert set(stats) == STAT_KEYS
    assert stats["n"] == 1000
    assert stats["mean"] == pytest.approx(samples.mean())
    assert stats["median"] == stats["p50"] == pytest.approx(np.median(samples))
    assert stats["p95"] == pytest.approx(np.percentile(samples, 95))
    assert stats["p99"] == pytest.approx(np.percentile(samples, 99))
    assert stats["min"] <= stats["p50"] <= stats["p95"] <= stats["p99"] <= stats["max"]


def test_timing_stats_of_a_known_series():
    stats = timing_stats(list(range(1, 101)))
    assert stats["median"] == 50.5 and stats["mean"] == 50.5
    assert stats["p95"] == pytest.approx(95.05) and stats["max"] == 100


@pytest.mark.parametrize("bad", [[], [1.0, float("nan")], [float("inf")]])
def test_timing_stats_rejects_empty_or_non_finite(bad):
    with pytest.raises(ValueError):
        timing_stats(bad)


def test_time_calls_runs_warmup_then_repeats():
    calls = []
    seconds = time_calls(lambda: calls.append(1), repeats=5, warmup=2)
    assert len(calls) == 7
    assert seconds.shape == (5,) and (seconds >= 0).all()
    with pytest.raises(ValueError):
        time_calls(lambda: None, repeats=0)
