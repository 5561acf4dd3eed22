"""Exact reference problems: Gaussian and Gaussian-mixture targets with closed-form answers."""

from .gaussian import GaussianMixture

__all__ = ["GaussianMixture"]
