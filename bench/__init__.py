"""Benchmarks, not tests: run each from the project root, ``python -m bench.<name>``."""
