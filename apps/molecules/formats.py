"""Molecule files: multi-frame XYZ (read and write) and SDF through RDKit.

XYZ: per frame, an atom-count line, a comment line, then one ``symbol x y z`` line per atom
(Å; the symbol may be an atomic number; extra columns are ignored). Frames follow each other
directly; blank lines between them are skipped.
"""

from __future__ import annotations

import functools
import io
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from scorelab.io import write_text_atomic

Frame = tuple[list[str], np.ndarray]


@functools.cache
def _element_symbols() -> tuple[str, ...]:
    """Element symbols by atomic number (index 0 unused), from RDKit's periodic table."""
    from rdkit import Chem

    table = Chem.GetPeriodicTable()
    return ("",) + tuple(table.GetElementSymbol(z) for z in range(1, 119))


def _element(token: str) -> str | None:
    """The element symbol of ``token`` (a symbol in any case, or an atomic number), or None."""
    symbols = _element_symbols()
    if token.isdigit():
        return symbols[int(token)] if 0 < int(token) < len(symbols) else None
    symbol = token[:1].upper() + token[1:].lower()
    return symbol if symbol in symbols[1:] else None


def _xyz_lines(path_or_text: str | os.PathLike) -> list[str]:
    if isinstance(path_or_text, str) and "\n" in path_or_text:
        return path_or_text.splitlines()
    path = Path(path_or_text)
    if not path.is_file():
        raise FileNotFoundError(f"XYZ file not found: {path}")
    return path.read_text(encoding="utf-8").splitlines()


def read_xyz(path_or_text: str | os.PathLike) -> list[Frame]:
    """Frames (symbols, (n, 3) float64 positions in Å) of an XYZ file, or of XYZ text (a string
    holding a newline); malformed input is a ValueError naming the line."""
    lines = _xyz_lines(path_or_text)
    frames: list[Frame] = []
    k = 0
    while k < len(lines):
        if not lines[k].strip():
            k += 1
            continue
        count = lines[k].split()
        if len(count) != 1 or not count[0].isdigit() or int(count[0]) < 1:
            raise ValueError(f"line {k + 1}: bad atom count {lines[k].strip()!r}")
        n = int(count[0])
        if k + 2 + n > len(lines):
            raise ValueError(
                f"line {len(lines)}: too few lines: the count on line {k + 1} needs {n} atom "
                f"lines after a comment line, the input ends {k + 2 + n - len(lines)} short"
            )
        symbols, pos = [], np.empty((n, 3))
        for i in range(n):
            line_no = k + 3 + i
            fields = lines[k + 2 + i].split()
            if len(fields) < 4:
                raise ValueError(
                    f"line {line_no}: expected an element and 3 coordinates, "
                    f"got {lines[k + 2 + i].strip()!r}"
                )
            symbol = _element(fields[0])
            if symbol is None:
                raise ValueError(f"line {line_no}: unknown element {fields[0]!r}")
            try:
                pos[i] = [float(v) for v in fields[1:4]]
            except ValueError:
                raise ValueError(
                    f"line {line_no}: non-numeric coordinate in {' '.join(fields[1:4])!r}"
                ) from None
            if not np.isfinite(pos[i]).all():
                raise ValueError(f"line {line_no}: non-finite coordinate")
            symbols.append(symbol)
        frames.append((symbols, pos))
        k += 2 + n
    if not frames:
        raise ValueError("no XYZ frames in the input")
    return frames


def xyz_text(symbols: Sequence[str], pos: Any, comment: str = "") -> str:
    """One XYZ frame as text (positions in Å, 6 decimals), ending with a newline."""
    pos = np.asarray(pos, dtype=np.float64)
    if pos.shape != (len(symbols), 3):
        raise ValueError(f"{len(symbols)} symbols need positions of shape (n, 3), got {pos.shape}")
    if "\n" in comment or "\r" in comment:
        raise ValueError("an XYZ comment must be a single line")
    rows = [f"{s:<2s} {x:14.6f} {y:14.6f} {z:14.6f}" for s, (x, y, z) in zip(symbols, pos)]
    return "\n".join([str(len(symbols)), comment, *rows]) + "\n"


def write_xyz(
    path: str | os.PathLike,
    frames: Sequence[tuple[Sequence[str], Any]],
    comments: Sequence[str] | None = None,
) -> Path:
    """Write frames (symbols, (n, 3) positions) to one multi-frame XYZ file, atomically."""
    if comments is not None and len(comments) != len(frames):
        raise ValueError(f"{len(comments)} comments for {len(frames)} frames")
    comments = comments if comments is not None else [""] * len(frames)
    text = "".join(xyz_text(s, p, c) for (s, p), c in zip(frames, comments))
    return write_text_atomic(path, text)


def write_sdf(path: str | os.PathLike, mols: Sequence[Any]) -> Path:
    """Write RDKit molecules with a conformer each to an SDF file, atomically. Molecules that
    RDKit cannot kekulize (unsanitized generated ones) are written with their aromatic flags."""
    from rdkit import Chem
    from rdkit.rdBase import BlockLogs

    for i, mol in enumerate(mols):
        if mol is None or mol.GetNumConformers() == 0:
            raise ValueError(f"molecule {i}: an SDF record needs a molecule with a conformer")
    buffer = io.StringIO()
    writer = Chem.SDWriter(buffer)
    with BlockLogs():
        for mol in mols:
            try:
                writer.write(mol)
            except Chem.KekulizeException:
                writer.SetKekulize(False)
                writer.write(mol)
                writer.SetKekulize(True)
    writer.close()
    return write_text_atomic(path, buffer.getvalue())


def read_sdf(path: str | os.PathLike, sanitize: bool = True) -> list[Any]:
    """RDKit molecules (hydrogens and conformers kept) of an SDF file; a record RDKit cannot
    parse is a ValueError naming its index."""
    from rdkit import Chem
    from rdkit.rdBase import BlockLogs

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"SDF file not found: {path}")
    mols = []
    with BlockLogs():
        supplier = Chem.SDMolSupplier(str(path), sanitize=sanitize, removeHs=False)
        for i, mol in enumerate(supplier):
            if mol is None:
                raise ValueError(f"{path}: record {i}: RDKit cannot parse this SDF record")
            mols.append(mol)
    return mols


__all__ = ["read_sdf", "read_xyz", "write_sdf", "write_xyz", "xyz_text"]
