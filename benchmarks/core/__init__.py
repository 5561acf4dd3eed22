"""Benchmarks of the core (``scorelab``): ``python -m benchmarks.core.samplers``."""
