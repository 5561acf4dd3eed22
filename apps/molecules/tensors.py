"""From ``MoleculeSet`` arrays to the flow's state and back: one-hot scaling, masks, sizes.

The state is ``{"pos": (B, N, 3), "atom_type": (B, N, T), "charge": (B, N, C)}``: positions
in Ångström (centred by the ZeroCoM geometry), types and charges one-hot times a scale.
Decoding takes the argmax of the type and charge channels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from .dataset import MoleculeSet

FIELDS = ("pos", "atom_type", "charge")


@dataclass
class MoleculeTensors:
    """A whole split as tensors: the state's fields, the node mask, raw properties."""

    pos: Tensor
    atom_type: Tensor
    charge: Tensor
    mask: Tensor
    properties: dict[str, Tensor]

    def __len__(self) -> int:
        return len(self.mask)

    def batch(self, idx: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """The state and node mask of rows ``idx``, padding trimmed to the batch's largest."""
        mask = self.mask[idx]
        n = int(mask.sum(1).max())
        x = {k: getattr(self, k)[idx, :n] for k in FIELDS}
        return x, mask[:, :n]


def as_tensors(
    pos: np.ndarray,
    atom_type: np.ndarray,
    charge: np.ndarray,
    mask: np.ndarray,
    n_types: int,
    n_charges: int,
    type_scale: float = 1.0,
    charge_scale: float = 1.0,
) -> MoleculeTensors:
    """Padded index arrays -> float positions, scaled one-hot types and charges, float mask."""
    m = torch.as_tensor(np.asarray(mask), dtype=torch.float32)
    one = torch.nn.functional.one_hot
    types = one(torch.as_tensor(np.asarray(atom_type)).long(), n_types).float()
    charges = one(torch.as_tensor(np.asarray(charge)).long(), n_charges).float()
    return MoleculeTensors(
        pos=torch.as_tensor(np.asarray(pos), dtype=torch.float32) * m[..., None],
        atom_type=types * type_scale * m[..., None],
        charge=charges * charge_scale * m[..., None],
        mask=m,
        properties={},
    )


def to_tensors(ms: MoleculeSet, type_scale: float, charge_scale: float) -> MoleculeTensors:
    """A whole set as tensors, with its properties."""
    t = as_tensors(
        ms.pos,
        ms.atom_type,
        ms.charge,
        ms.mask,
        len(ms.atoms),
        len(ms.charges),
        type_scale,
        charge_scale,
    )
    t.properties = {k: torch.as_tensor(v, dtype=torch.float32) for k, v in ms.properties.items()}
    return t


def field_masks(node_mask: Tensor) -> dict[str, Tensor]:
    """Per-field masks of the state: every field is per-atom."""
    m = node_mask.float()[..., None]
    return {k: m for k in FIELDS}


def node_mask_of(counts: Sequence[int], n_max: int, device: torch.device | str = "cpu") -> Tensor:
    """A (B, n_max) float mask with the first ``counts[b]`` atoms real."""
    c = torch.as_tensor(list(counts), device=device)
    return (torch.arange(n_max, device=device)[None] < c[:, None]).float()


def decode(x: dict[str, Tensor], node_mask: Tensor) -> dict[str, np.ndarray]:
    """Sampled state -> numpy ``pos`` (Å), ``atom_type`` and ``charge`` indices, ``mask``."""
    m = node_mask.bool().cpu().numpy()
    return {
        "pos": (x["pos"] * node_mask[..., None]).detach().cpu().numpy().astype(np.float64),
        "atom_type": x["atom_type"].argmax(-1).cpu().numpy() * m,
        "charge": x["charge"].argmax(-1).cpu().numpy(),
        "mask": m,
    }


def molecules_of(
    raw: dict[str, np.ndarray], atoms: Sequence[str], charges: Sequence[int]
) -> list[tuple[list[str], np.ndarray, list[int]]]:
    """Per-molecule (symbols, positions, formal charges) of decoded samples."""
    out = []
    for i in range(len(raw["mask"])):
        n = int(raw["mask"][i].sum())
        symbols = [atoms[int(a)] for a in raw["atom_type"][i, :n]]
        formal = [int(charges[int(c)]) for c in raw["charge"][i, :n]]
        out.append((symbols, raw["pos"][i, :n], formal))
    return out


@dataclass
class PropertyStats:
    """EDM's normalisation of a property: (value - mean) / mean absolute deviation."""

    mean: float
    mad: float

    @classmethod
    def of(cls, values: np.ndarray | Tensor) -> PropertyStats:
        """Mean and mean absolute deviation of the training values."""
        v = np.asarray(values, dtype=np.float64)
        mean = float(v.mean())
        return cls(mean, float(np.abs(v - mean).mean()))

    def normalize(self, v: Tensor) -> Tensor:
        """Value in published units -> normalised."""
        return (v - self.mean) / self.mad

    def denormalize(self, v: Tensor) -> Tensor:
        """Normalised -> published units."""
        return v * self.mad + self.mean


@dataclass
class SizeDistribution:
    """Atom counts of the training molecules, jointly with each conditioning property.

    Unconditional sizes come from the count histogram (EDM's DistributionNodes); given a
    target value, from the histogram of training molecules in the target's property bin
    (the conditional of EDM's joint (n, property) histogram). Histograms are bincounts:
    entry k is the number of molecules with k atoms.
    """

    counts: list[int]
    edges: dict[str, list[float]]
    """per property: quantile bin edges over the training values"""
    joint: dict[str, list[list[int]]]
    """per property: for each bin, the atom-count histogram of its training molecules"""

    @classmethod
    def of(cls, num_atoms: np.ndarray, properties: dict[str, np.ndarray], bins: int = 20):
        """Build from training atom counts and property values (quantile bins)."""
        n = np.asarray(num_atoms, dtype=np.int64)
        size = int(n.max()) + 1
        edges, joint = {}, {}
        for name, v in properties.items():
            e = np.unique(np.quantile(v, np.linspace(0, 1, bins + 1)))
            b = np.clip(np.searchsorted(e, v, side="right") - 1, 0, len(e) - 2)
            edges[name] = [float(x) for x in e]
            joint[name] = [
                np.bincount(n[b == k], minlength=size).tolist() for k in range(len(e) - 1)
            ]
        return cls(np.bincount(n, minlength=size).tolist(), edges, joint)

    @staticmethod
    def _draw(hist: list[int], k: int, rng: np.random.Generator) -> np.ndarray:
        h = np.asarray(hist, dtype=np.float64)
        return rng.choice(len(h), size=k, p=h / h.sum())

    def draw(
        self,
        n: int,
        rng: np.random.Generator,
        targets: dict[str, np.ndarray] | None = None,
    ) -> list[int]:
        """``n`` atom counts; given per-sample targets, from the first property's bin."""
        if not targets:
            return [int(c) for c in self._draw(self.counts, n, rng)]
        name = next(iter(targets))
        e = np.asarray(self.edges[name])
        b = np.clip(np.searchsorted(e, targets[name], side="right") - 1, 0, len(e) - 2)
        out = []
        for k in b:
            h = self.joint[name][k]
            out.append(int(self._draw(h if sum(h) else self.counts, 1, rng)[0]))
        return out
