"""Benchmarks: each module here is one ``dyad bench NAME`` (see dyad/cli.py)."""
