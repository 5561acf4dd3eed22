"""Exact reference problems: Gaussian and Gaussian-mixture targets with closed-form answers."""

from .gaussian import GaussianMixture
from .pushforward import affine_pushforward

__all__ = ["GaussianMixture", "affine_pushforward"]
