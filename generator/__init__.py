"""Text to motion: text encoding, the motion model, the streaming sampler.

Python API: :func:`dyad.generator.streaming.stream` (chunks as they are made) and
:class:`dyad.generator.streaming.MotionGenerator` (load once, reuse); command ``dyad generate``;
design, training and evaluation in docs/generator.md. Importing this package does not import
torch.
"""
