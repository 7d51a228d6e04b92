"""Filters: the lag they report is the lag they add, and they smooth what they should."""

from __future__ import annotations

import numpy as np
import pytest

from dyad.errors import DyadInputError
from dyad.retarget.filters import LowPassFilter, OneEuroFilter, alpha_from_cutoff

FPS = 30.0


def _ramp_lag_frames(filt, speed_per_s=1.0, frames=400):
    """Measured steady delay, frames, of ``filt`` on a ramp (value / speed of the gap)."""
    step = speed_per_s / FPS
    out = None
    for t in range(frames):
        out = filt(np.array([t * step, -t * step]))
    return (np.array([(frames - 1) * step, -(frames - 1) * step]) - out) / np.array([step, -step])


def _noise_ratio(filt, seed=0, frames=3000):
    rng = np.random.default_rng(seed)
    noisy = 0.5 + rng.normal(0.0, 0.01, (frames, 3))
    out = np.array([filt(x) for x in noisy])[200:]
    return out.std(axis=0).mean() / noisy[200:].std(axis=0).mean()


@pytest.mark.parametrize("alpha", [0.2, 0.5, 0.9])
def test_low_pass_reports_the_lag_it_adds(alpha):
    filt = LowPassFilter(alpha=alpha, fps=FPS)
    measured = _ramp_lag_frames(filt)
    np.testing.assert_allclose(measured, filt.lag_frames, rtol=1e-6)
    assert filt.lag_s == pytest.approx(filt.lag_frames / FPS)


def test_low_pass_from_cutoff_and_smoothing():
    filt = LowPassFilter(cutoff_hz=2.0, fps=FPS)
    assert filt.alpha == pytest.approx(alpha_from_cutoff(2.0, FPS))
    # Lag grows as the corner falls: 2 Hz at 30 fps is 2.39 frames (1 / (2 pi fc) s).
    assert filt.lag_s == pytest.approx(1.0 / (2 * np.pi * 2.0), rel=1e-9)
    # White noise variance shrinks by alpha / (2 - alpha) through an exponential filter.
    ratio = _noise_ratio(filt)
    expected = np.sqrt(filt.alpha / (2.0 - filt.alpha))
    assert ratio == pytest.approx(expected, rel=0.1)
    assert _noise_ratio(LowPassFilter(alpha=1.0)) == pytest.approx(1.0)


def test_one_euro_lag_falls_with_speed():
    slow = OneEuroFilter(fps=FPS, min_cutoff_hz=1.0, beta=0.5)
    np.testing.assert_allclose(_ramp_lag_frames(slow, speed_per_s=1e-4), slow.lag_frames,
                               rtol=1e-3)
    fast = OneEuroFilter(fps=FPS, min_cutoff_hz=1.0, beta=0.5)
    measured = _ramp_lag_frames(fast, speed_per_s=4.0)
    np.testing.assert_allclose(measured, fast.lag_frames_at(4.0), rtol=1e-6)
    assert fast.lag_frames_at(4.0) < fast.lag_frames / 2
    # With beta = 0 it is the plain low-pass at its minimum corner.
    plain = OneEuroFilter(fps=FPS, min_cutoff_hz=2.0)
    assert plain.lag_frames == pytest.approx(LowPassFilter(cutoff_hz=2.0).lag_frames)
    assert plain.lag_frames_at(10.0) == pytest.approx(plain.lag_frames)


def test_one_euro_smooths_jitter_at_rest():
    ratio = _noise_ratio(OneEuroFilter(fps=FPS, min_cutoff_hz=1.0, beta=0.05))
    assert ratio < 0.5


def test_filters_reset_and_validate():
    filt = LowPassFilter(alpha=0.3)
    filt(np.ones(3))
    assert filt(np.zeros(3))[0] == pytest.approx(0.7)
    filt.reset()
    np.testing.assert_array_equal(filt(np.zeros(3)), np.zeros(3))
    with pytest.raises(DyadInputError):
        LowPassFilter()
    with pytest.raises(DyadInputError):
        LowPassFilter(alpha=0.0)
    with pytest.raises(DyadInputError):
        LowPassFilter(alpha=0.5, cutoff_hz=1.0)
    with pytest.raises(DyadInputError):
        OneEuroFilter(min_cutoff_hz=0.0)


def test_streaming_smoothing_keeps_couplings_and_limits():
    """Smoothing filters independent coordinates: mimic couplings stay exact, limits hold."""
    from pathlib import Path
    data = Path(__file__).resolve().parents[1].parent / "shared" / "data"
    if not (data / "dex-urdf").is_dir():
        pytest.skip(f"reference data not found at {data}")
    pytest.importorskip("pinocchio")
    from dyad.bench.retarget import load_dex_urdf_hand
    from dyad.retarget.hand_ik import parse_urdf_mimic
    from dyad.retarget.streaming import HandStreamer
    ik = load_dex_urdf_hand("inspire_right", data)
    raw = np.load(data / "mediapipe_right_hand_621.npy")[:90]
    outputs = {}
    for label, smoothing in (("raw", None), ("filtered", OneEuroFilter(FPS, 1.0, 0.3))):
        streamer = HandStreamer(ik, "mediapipe_operator", smoothing=smoothing)
        streamer.reset()
        outputs[label] = np.array([streamer.step(f) for f in raw])
    q = outputs["filtered"]
    names = list(ik.joint_names)
    urdf = data / "dex-urdf" / "hands" / "inspire_hand" / "inspire_hand_right.urdf"
    for follower, leader, mult, offset in parse_urdf_mimic(urdf.read_text()):
        np.testing.assert_allclose(q[:, names.index(follower)],
                                   mult * q[:, names.index(leader)] + offset, atol=1e-12)
    assert (q >= ik.lower - 1e-9).all() and (q <= ik.upper + 1e-9).all()
    # Smoother: less frame-to-frame acceleration than the raw solve.
    accel = {k: np.abs(np.diff(v, 2, axis=0)).mean() for k, v in outputs.items()}
    assert accel["filtered"] < accel["raw"]
