"""``dyad bench NAME [--json] [options]``: run one benchmark and report it.

A benchmark is any module of the ``dyad.bench`` package that defines

- ``NAME: str`` — the name on the command line,
- ``add_arguments(parser)`` — its own options,
- ``run(args) -> dict`` — the measurement; JSON-serialisable figures,

and whose docstring's first line says what it measures (``dyad bench --help`` lists it). Heavy
imports belong inside ``run``: every benchmark module is imported to build the list.

Every report is one object with these keys:

============  ==================================================================================
key           content
============  ==================================================================================
benchmark     the benchmark's NAME
timestamp     when the run started, ISO 8601, UTC
duration_s    wall-clock seconds of the whole run
machine       cpu, cores, cores_usable, memory_gb, platform, python, numpy, torch (installed
              version or null), gpu (when torch was used and saw CUDA), dyad, git_commit,
              git_dirty (null outside a git checkout)
params        the benchmark's options as parsed
results       what ``run`` returned
============  ==================================================================================

With ``--json`` exactly that object is printed on stdout (anything the benchmark prints goes to
stderr); without it, a table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import importlib
import io
import json
import math
import os
import pkgutil
import platform
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

from dyad.errors import DyadInputError

PACKAGE = "dyad.bench"
_NOT_BENCHMARKS = {"cli", "stats"}  # this harness and shared helpers


class _OneLineErrorParser(argparse.ArgumentParser):
    """Bad benchmark options are bad input: one line and exit 2, like every dyad error."""

    def error(self, message: str):
        raise DyadInputError(f"{self.prog}: {message}")


def discover() -> tuple[dict[str, ModuleType], dict[str, str]]:
    """Every benchmark of the ``dyad.bench`` package.

    Returns:
        (benchmarks by NAME, modules that failed to import -> the reason). Modules without the
        benchmark interface (helpers) are left out silently.
    """
    package = importlib.import_module(PACKAGE)
    found: dict[str, ModuleType] = {}
    broken: dict[str, str] = {}
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if info.name in _NOT_BENCHMARKS or info.name.startswith("_"):
            continue
        try:
            module = importlib.import_module(f"{PACKAGE}.{info.name}")
        except Exception as exc:  # one broken benchmark must not hide the others
            broken[info.name] = f"{type(exc).__name__}: {exc}"
            continue
        name = getattr(module, "NAME", None)
        if isinstance(name, str) and callable(getattr(module, "add_arguments", None)) \
                and callable(getattr(module, "run", None)):
            if name in found:
                broken[info.name] = f"NAME {name!r} is already used by {found[name].__name__}"
                continue
            found[name] = module
    return found, broken


def _summary(module: ModuleType) -> str:
    doc = (module.__doc__ or "").strip()
    line = doc.splitlines()[0] if doc else "(no description)"
    # "``dyad bench NAME``: what it measures" -> "what it measures": the list shows the name.
    for prefix in (f"``dyad bench {module.NAME}``:", f"dyad bench {module.NAME}:"):
        if line.startswith(prefix):
            return line[len(prefix):].strip() or line
    return line


def _listing() -> str:
    found, broken = discover()
    width = max([len(n) for n in found] + [8])
    lines = ["benchmarks:"]
    lines += [f"  {name:<{width}}  {_summary(m)}" for name, m in sorted(found.items())]
    if not found:
        lines.append("  (none found)")
    lines += [f"  {mod:<{width}}  (unavailable: {why})" for mod, why in sorted(broken.items())]
    return "\n".join(lines)


class _HelpWithListing(argparse.Action):
    """``-h``: the usual help plus the benchmark list, found only when asked for."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS,
                 help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        parser.print_help()
        print()
        print(_listing())
        print("\nRun 'dyad bench NAME --help' for a benchmark's options.")
        parser.exit()


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``dyad bench`` to the ``dyad`` command."""
    p = subparsers.add_parser(
        "bench", add_help=False, help="run a benchmark (dyad bench --help lists them)",
        description="Run one benchmark and print its figures with the machine's facts.",
        usage="dyad bench [-h] NAME [--json] [options]",
    )
    p.add_argument("-h", "--help", action=_HelpWithListing,
                   help="show this help and the list of benchmarks")
    p.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    p.add_argument("name", nargs="?", metavar="NAME", help="the benchmark")
    p.add_argument("options", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)
    p.set_defaults(func=run_bench)


def run_bench(args: argparse.Namespace) -> int:
    """The ``dyad bench`` command."""
    found, broken = discover()
    if not args.name:
        raise DyadInputError(f"name a benchmark: {', '.join(sorted(found)) or '(none found)'}")
    module = found.get(args.name)
    if module is None:
        why = next((f" ({reason})" for mod, reason in broken.items() if mod == args.name), "")
        raise DyadInputError(f"unknown benchmark {args.name!r}{why}; benchmarks: "
                             f"{', '.join(sorted(found)) or '(none found)'}")
    parser = _OneLineErrorParser(prog=f"dyad bench {args.name}",
                                 description=(module.__doc__ or "").strip() or None,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    module.add_arguments(parser)
    bench_args = parser.parse_args(args.options)
    bench_args.json = bench_args.json or args.json

    report = run_benchmark(module, bench_args)
    if bench_args.json:
        print(json.dumps(report, allow_nan=False))
    else:
        print(format_report(report))
    return 0


def run_benchmark(module: ModuleType, args: argparse.Namespace) -> dict:
    """Run one benchmark module and wrap its figures with the machine facts (the report)."""
    started = dt.datetime.now(dt.timezone.utc)
    t0 = time.perf_counter()
    with _stdout_to_stderr():
        results = module.run(args)
    duration_s = time.perf_counter() - t0
    if not isinstance(results, dict):
        raise TypeError(f"benchmark {module.NAME!r}: run() returned {type(results).__name__}, "
                        "expected a dict")
    params = {k: v for k, v in vars(args).items() if k not in ("json", "func")}
    report = {
        "benchmark": module.NAME,
        "timestamp": started.isoformat(timespec="seconds"),
        "duration_s": round(duration_s, 3),
        "machine": machine_facts(),
        "params": params,
        "results": results,
    }
    return to_json_types(report)


@contextlib.contextmanager
def _stdout_to_stderr():
    """Send the benchmark's own output (Python prints and child processes) to stderr, so that
    stdout carries only the report."""
    sys.stdout.flush()
    saved_fd = None
    try:
        saved_fd = os.dup(1)
        os.dup2(2, 1)
    except OSError:
        saved_fd = None
    try:
        with contextlib.redirect_stdout(sys.stderr):
            yield
    finally:
        if saved_fd is not None:
            with contextlib.suppress(OSError, ValueError, io.UnsupportedOperation):
                sys.__stdout__.flush()
            os.dup2(saved_fd, 1)
            os.close(saved_fd)


def machine_facts() -> dict:
    """What a reader needs to compare two runs: CPU, cores, versions, commit."""
    facts = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
        else os.cpu_count(),
        "memory_gb": _memory_gb(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": _version("numpy"),
        "torch": _version("torch"),
        "gpu": None,
        "dyad": _version("dyad"),
    }
    torch = sys.modules.get("torch")  # only when the benchmark used it: importing costs seconds
    if torch is not None:
        with contextlib.suppress(Exception):
            if torch.cuda.is_available():
                facts["gpu"] = torch.cuda.get_device_name(0)
    facts.update(_git_state())
    return facts


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine() or "unknown"


def _memory_gb() -> float | None:
    with contextlib.suppress(ValueError, OSError, AttributeError):
        return round(os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30, 1)
    return None


def _version(distribution: str) -> str | None:
    from importlib import metadata

    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git_state() -> dict:
    repo = Path(__file__).resolve().parent.parent
    state = {"git_commit": None, "git_dirty": None}
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True,
                                text=True, timeout=5)
        if commit.returncode != 0:
            return state
        state["git_commit"] = commit.stdout.strip()
        status = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                cwd=repo, capture_output=True, text=True, timeout=10)
        if status.returncode == 0:
            state["git_dirty"] = bool(status.stdout.strip())
    except (OSError, subprocess.SubprocessError):
        pass
    return state


def to_json_types(value, where: str = "report"):
    """``value`` with numpy numbers and arrays, tuples, sets and paths turned into plain JSON
    types, and non-finite floats into ``None`` (JSON has no NaN)."""
    if isinstance(value, dict):
        return {str(k): to_json_types(v, f"{where}.{k}") for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [to_json_types(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if hasattr(value, "tolist") and not isinstance(value, (str, bytes)):  # numpy
        return to_json_types(value.tolist(), where)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{where}: {type(value).__name__} is not JSON serialisable")


def format_report(report: dict) -> str:
    """A readable table of a report: a header line, the results, then the parameters."""
    m = report["machine"]
    commit = (m.get("git_commit") or "")[:10] + ("+dirty" if m.get("git_dirty") else "")
    header = (f"dyad bench {report['benchmark']}   {report['timestamp']}   "
              f"{report['duration_s']:.2f} s\n"
              f"{m['cpu']}, {m['cores_usable']}/{m['cores']} cores, python {m['python']}, "
              f"numpy {m['numpy']}, torch {m['torch'] or '-'}"
              + (f", gpu {m['gpu']}" if m.get("gpu") else "")
              + (f", git {commit}" if commit else ""))
    rows = list(_flatten(report["results"]))
    width = max([len(k) for k, _ in rows] + [6])
    lines = [header, ""]
    lines += [f"  {k:<{width}}  {_format_value(v)}" for k, v in rows]
    params = ", ".join(f"{k}={_format_value(v)}" for k, v in report["params"].items())
    lines += ["", f"params: {params}"]
    return "\n".join(lines)


def _flatten(value, prefix: str = ""):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    else:
        yield prefix, value


def _format_value(value) -> str:
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, float) or (hasattr(value, "dtype") and value.dtype.kind == "f"):
        value = float(value)
        if not math.isfinite(value):
            return str(value)
        return f"{value:.4g}" if abs(value) < 1e5 else f"{value:.0f}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_format_value(v) for v in value) + "]"
    return str(value)
