"""Text to motion: text encoding, the motion model, the streaming sampler."""
