"""Packaged generator weights: ``default.pt`` (see ``dyad.generator.checkpoint``).

A package so that the checkpoint file ships with the wheel (``*.pt`` package data). Rebuild it
with ``dyad train generator ... --install-default`` (docs/generator.md).
"""
