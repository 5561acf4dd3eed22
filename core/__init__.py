"""scorelab: one score-based generative core (score SDEs, flow matching, interpolants).

The core imports no app and no heavy optional dependency (POT, matplotlib, torchdiffeq
are imported where they are used).
"""

from . import (
    aggregate,
    alignment,
    distances,
    distill,
    editing,
    fokker_planck,
    guidance,
    inverse,
    inverse_smc,
    multiplicative,
    samplers,
    smc,
    stochastic_interpolant,
    testing,
)
from .alignment import align_points, equivariant_ot_coupling, kabsch
from .broadcast import append_dims, batch_time
from .editing import code_edit, sdedit
from .fokker_planck import FokkerPlanckRegularized, fp_residual, ode_sde_gap
from .geometry import EUCLIDEAN, SYMMETRIC_MATRIX, ZERO_COM, Euclidean, SymmetricMatrix, ZeroCoM
from .guidance import Annealed, ClassifierFreeGuidance, ProductOfExperts
from .inverse import LinearMeasurement, sample_dps
from .inverse_smc import sample_posterior_smc
from .likelihood import LikelihoodResult, log_likelihood
from .losses import DSMLoss, FlowMatchingLoss
from .multiplicative import GBM, MultiplicativeDSMLoss, sample_gbm
from .parameterization import KINDS, Predictor, convert, from_x0_eps, predict, to_x0_eps
from .paths import EDM, VE, VP, GaussianPath, Interpolant, MeanReverting, SubVP, get_path
from .precond import EDMPrecond, edm_coefficients
from .samplers import (
    CountNFE,
    get_grid,
    get_sampler,
    sample,
    sample_dmcmc,
    sample_fkc,
    sample_mrs,
)
from .state import Field, Spec, State
from .stochastic_interpolant import StochasticInterpolant
from .time_proposals import LogitNormalTime, LogLogisticSigma, LogNormalSigma, UniformTime

__version__ = "0.1.0"

__all__ = [
    "aggregate",
    "align_points",
    "alignment",
    "Annealed",
    "append_dims",
    "batch_time",
    "ClassifierFreeGuidance",
    "code_edit",
    "convert",
    "CountNFE",
    "distances",
    "distill",
    "DSMLoss",
    "editing",
    "EDM",
    "edm_coefficients",
    "EDMPrecond",
    "equivariant_ot_coupling",
    "Euclidean",
    "EUCLIDEAN",
    "Field",
    "FlowMatchingLoss",
    "fokker_planck",
    "FokkerPlanckRegularized",
    "fp_residual",
    "from_x0_eps",
    "GaussianPath",
    "GBM",
    "get_grid",
    "get_path",
    "get_sampler",
    "guidance",
    "Interpolant",
    "inverse",
    "inverse_smc",
    "kabsch",
    "KINDS",
    "LikelihoodResult",
    "LinearMeasurement",
    "log_likelihood",
    "LogitNormalTime",
    "LogLogisticSigma",
    "LogNormalSigma",
    "MeanReverting",
    "multiplicative",
    "MultiplicativeDSMLoss",
    "ode_sde_gap",
    "predict",
    "Predictor",
    "ProductOfExperts",
    "sample",
    "sample_dmcmc",
    "sample_dps",
    "sample_fkc",
    "sample_gbm",
    "sample_mrs",
    "sample_posterior_smc",
    "samplers",
    "sdedit",
    "smc",
    "Spec",
    "State",
    "stochastic_interpolant",
    "StochasticInterpolant",
    "SubVP",
    "SYMMETRIC_MATRIX",
    "SymmetricMatrix",
    "testing",
    "to_x0_eps",
    "UniformTime",
    "VE",
    "VP",
    "ZERO_COM",
    "ZeroCoM",
]
