"""Data synthesis and captioning, dataset loaders, training loops, evaluation."""
