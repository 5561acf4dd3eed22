"""scorelab: one score-based generative core (score SDEs, flow matching, interpolants).

The core imports no app and no heavy optional dependency (POT, matplotlib, torchdiffeq
are imported where they are used).
"""

from . import distances, samplers, testing
from .broadcast import append_dims, batch_time
from .geometry import EUCLIDEAN, ZERO_COM, Euclidean, ZeroCoM
from .likelihood import LikelihoodResult, log_likelihood
from .losses import DSMLoss, FlowMatchingLoss
from .parameterization import KINDS, Predictor, convert, from_x0_eps, predict, to_x0_eps
from .paths import EDM, VE, VP, GaussianPath, Interpolant, SubVP, get_path
from .precond import EDMPrecond, edm_coefficients
from .samplers import CountNFE, get_grid, get_sampler, sample
from .state import Field, Spec, State
from .time_proposals import LogitNormalTime, LogNormalSigma, UniformTime

__version__ = "0.1.0"

__all__ = [
    "CountNFE",
    "DSMLoss",
    "FlowMatchingLoss",
    "LikelihoodResult",
    "LogNormalSigma",
    "LogitNormalTime",
    "UniformTime",
    "distances",
    "get_grid",
    "get_sampler",
    "log_likelihood",
    "sample",
    "samplers",
    "testing",
    "EDM",
    "EUCLIDEAN",
    "KINDS",
    "VE",
    "VP",
    "ZERO_COM",
    "EDMPrecond",
    "Euclidean",
    "Field",
    "GaussianPath",
    "Interpolant",
    "Predictor",
    "Spec",
    "State",
    "SubVP",
    "ZeroCoM",
    "append_dims",
    "batch_time",
    "convert",
    "edm_coefficients",
    "from_x0_eps",
    "get_path",
    "predict",
    "to_x0_eps",
]
