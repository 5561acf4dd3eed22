"""3-D molecule generation by E(3)-equivariant flow matching, property-guided (PropMolFlow).

Needs the extra: ``pip install 'scorelab[molecules]'`` (DFT checks: ``[dft]``). See
docs/molecules.md.
"""

from .api import MoleculeModel, evaluate, generate, load, sample, to_molecules, train
from .config import MoleculesConfig, RegressorConfig, preset
from .dataset import MoleculeSet
from .formats import read_xyz, write_sdf, write_xyz
from .regression import bounds, load_regressor, predict, train_regressor

__all__ = [
    "MoleculeModel",
    "MoleculeSet",
    "MoleculesConfig",
    "RegressorConfig",
    "bounds",
    "evaluate",
    "generate",
    "load",
    "load_regressor",
    "predict",
    "preset",
    "read_xyz",
    "sample",
    "to_molecules",
    "train",
    "train_regressor",
    "write_sdf",
    "write_xyz",
]
