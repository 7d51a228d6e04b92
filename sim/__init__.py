"""Simulation gate and rendering: scenes, playback, checks, reports, videos."""
