"""Exact reference problems: Gaussian and Gaussian-mixture targets with closed-form answers."""

from .gaussian import GaussianMixture
from .noise_level import ExactNoiseLevel
from .posterior import geometric_gaussian, linear_gaussian_posterior, sdedit_law
from .pushforward import affine_noisy_pushforward, affine_pushforward

__all__ = [
    "ExactNoiseLevel",
    "GaussianMixture",
    "affine_noisy_pushforward",
    "affine_pushforward",
    "geometric_gaussian",
    "linear_gaussian_posterior",
    "sdedit_law",
]
