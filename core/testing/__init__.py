"""Exact reference problems (Gaussian targets with closed-form answers) and an E(3) checker."""

from .equivariance import EquivarianceReport, check_e3, random_orthogonal, random_permutation
from .gaussian import GaussianMixture
from .noise_level import ExactNoiseLevel
from .posterior import geometric_gaussian, linear_gaussian_posterior, sdedit_law
from .pushforward import affine_noisy_pushforward, affine_pushforward

__all__ = [
    "EquivarianceReport",
    "ExactNoiseLevel",
    "GaussianMixture",
    "affine_noisy_pushforward",
    "affine_pushforward",
    "check_e3",
    "geometric_gaussian",
    "linear_gaussian_posterior",
    "random_orthogonal",
    "random_permutation",
    "sdedit_law",
]
