"""Single-point DFT properties of a 3-D molecule with PySCF (optional extra ``[dft]``).

Checks generated molecules' properties the way QM9 defines them (QM9 used B3LYP/6-31G(2df,p);
our default is the cheaper 6-31G*): HOMO, LUMO and their gap in meV and the dipole moment's
magnitude in Debye, from one self-consistent-field solve at the given geometry (no geometry
optimisation). Closed shells use restricted Kohn-Sham; an odd electron count uses unrestricted
Kohn-Sham with one unpaired electron (HOMO = highest occupied, LUMO = lowest virtual orbital
over both spins). A charged molecule's dipole depends on the origin; PySCF measures it from the
coordinate origin.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .elements import ATOMIC_NUMBERS

HARTREE_TO_MEV = 27211.386
_INSTALL_HINT = "pip install 'scorelab[dft]'"


def _pyscf() -> Any:
    try:
        import pyscf
        from pyscf import dft  # noqa: F401  (loads the DFT module onto the package)
    except ImportError as err:
        raise ImportError(f"DFT properties need PySCF: {_INSTALL_HINT}") from err
    return pyscf


def dft_properties(
    symbols: Sequence[str],
    pos: np.ndarray,
    charge: int = 0,
    basis: str = "6-31g*",
    xc: str = "b3lyp",
    threads: int | None = None,
    max_cycle: int = 100,
) -> dict[str, float | bool]:
    """``gap``, ``homo``, ``lumo`` (meV), ``mu`` (Debye) and ``converged`` of one SCF solve.

    ``pos`` ``(n, 3)`` in Å; ``threads`` sets PySCF's OpenMP threads (process-wide).
    """
    pos = np.asarray(pos, dtype=np.float64)
    if pos.shape != (len(symbols), 3):
        raise ValueError(f"pos has shape {pos.shape}; expected ({len(symbols)}, 3)")
    unknown = [s for s in symbols if s not in ATOMIC_NUMBERS]
    if unknown:
        raise ValueError(f"unknown element {unknown[0]!r}; known: {', '.join(ATOMIC_NUMBERS)}")
    pyscf = _pyscf()
    if threads is not None:
        pyscf.lib.num_threads(int(threads))
    electrons = sum(ATOMIC_NUMBERS[s] for s in symbols) - int(charge)
    if electrons < 1:
        raise ValueError(f"{electrons} electrons for charge {charge}")
    mol = pyscf.gto.M(
        atom=[(s, tuple(p)) for s, p in zip(symbols, pos.tolist(), strict=True)],
        unit="Angstrom",
        basis=basis,
        charge=int(charge),
        spin=electrons % 2,
        verbose=0,
    )
    mf = pyscf.dft.RKS(mol) if electrons % 2 == 0 else pyscf.dft.UKS(mol)
    mf.xc = xc
    mf.max_cycle = int(max_cycle)
    mf.kernel()
    energy = np.asarray(mf.mo_energy).reshape(-1)
    occupied = np.asarray(mf.mo_occ).reshape(-1) > 0
    homo = float(energy[occupied].max())
    lumo = float(energy[~occupied].min()) if (~occupied).any() else float("nan")
    mu = np.asarray(mf.dip_moment(unit="Debye", verbose=0))
    return {
        "gap": (lumo - homo) * HARTREE_TO_MEV,
        "homo": homo * HARTREE_TO_MEV,
        "lumo": lumo * HARTREE_TO_MEV,
        "mu": float(np.linalg.norm(mu)),
        "converged": bool(mf.converged),
    }


__all__ = ["HARTREE_TO_MEV", "dft_properties"]
