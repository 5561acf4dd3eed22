"""Benchmarks: one shared harness (``benchmarks.harness``) and thin per-area scripts."""
