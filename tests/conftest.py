"""Shared pytest setup: every test runs headless and keeps DDS discovery on this machine."""

import os
from pathlib import Path

import pytest

os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("MUJOCO_GL", "egl")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("MPLBACKEND", "Agg")

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def right():
    """The registry's right Inspire hand (loaded once per test run)."""
    from dyad.retarget.registry import load_robot

    return load_robot("inspire_right")


@pytest.fixture(scope="session")
def left():
    """The registry's left Inspire hand (loaded once per test run)."""
    from dyad.retarget.registry import load_robot

    return load_robot("inspire_left")
