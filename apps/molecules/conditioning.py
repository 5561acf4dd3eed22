"""Time and property conditioning of the node features (EDM's time input, PropMolFlow's properties).

Time: EDM concatenates t to every node's features (``TimeEmbedding("scalar")``); a sinusoidal
embedding is the alternative.

Properties (PropMolFlow, Zeng et al. 2025): each normalised scalar property becomes a vector
e (B, d), by a linear map of the value, or by a Gaussian expansion (K Gaussians centred on a
fixed grid over [-4, 4] normalised units, each as wide as the grid spacing) followed by an MLP.
Several properties are embedded separately and their vectors summed. A missing condition
(``properties=None``, a property left out, or a NaN value for a sample) takes that property's
learned null embedding instead: classifier-free guidance's unconditional model. The summed
vector meets the node features h (B, N, d_h), broadcast over the nodes, by one of
``PROPERTY_COMBINATIONS``:

* ``concatenate``: Linear([h, e]);
* ``sum``: h + Linear(e);
* ``multiply``: h * Linear(e);
* ``concatenate_sum``: Linear([h, h + Linear(e)]);
* ``concatenate_multiply``: Linear([h, h * Linear(e)]).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import torch
from torch import Tensor, nn

PROPERTY_COMBINATIONS = (
    "concatenate",
    "sum",
    "multiply",
    "concatenate_sum",
    "concatenate_multiply",
)
TIME_EMBEDDINGS = ("scalar", "sinusoidal")


class TimeEmbedding(nn.Module):
    """t (B,) -> (B, out_dim): t itself (EDM, out_dim 1) or sin/cos features (out_dim ``dim``)."""

    def __init__(self, kind: str = "scalar", dim: int = 16, max_period: float = 1000.0) -> None:
        super().__init__()
        if kind not in TIME_EMBEDDINGS:
            raise ValueError(
                f"unknown time embedding {kind!r}; known: {', '.join(TIME_EMBEDDINGS)}"
            )
        if kind == "sinusoidal" and (dim < 2 or dim % 2):
            raise ValueError(f"a sinusoidal time embedding needs an even dim >= 2, got {dim}")
        self.kind = kind
        self.out_dim = 1 if kind == "scalar" else dim
        self.max_period = max_period

    def forward(self, t: Tensor) -> Tensor:
        if self.kind == "scalar":
            return t[:, None]
        half = self.out_dim // 2
        freqs = torch.exp(
            -math.log(self.max_period) * torch.arange(half, dtype=t.dtype, device=t.device) / half
        )
        # t in [0, 1]: scale so the slowest frequencies still turn over the unit interval
        angles = self.max_period * t[:, None] * freqs
        return torch.cat([torch.sin(angles), torch.cos(angles)], -1)


def gaussian_grid(values: Tensor, centres: Tensor, width: float) -> Tensor:
    """exp(-(v - c_k)^2 / (2 width^2)) for every centre: values (B,) -> (B, K)."""
    return torch.exp(-0.5 * ((values[:, None] - centres) / width) ** 2)


class PropertyEmbedding(nn.Module):
    """One normalised scalar property (B,) -> (B, dim); NaN entries take the learned null vector."""

    def __init__(
        self,
        dim: int,
        *,
        gaussian_expansion: bool = False,
        n_gaussians: int = 64,
        low: float = -4.0,
        high: float = 4.0,
    ) -> None:
        super().__init__()
        self.gaussian_expansion = gaussian_expansion
        if gaussian_expansion:
            if n_gaussians < 2:
                raise ValueError(f"n_gaussians must be >= 2, got {n_gaussians}")
            self.register_buffer("centres", torch.linspace(low, high, n_gaussians))
            self.width = (high - low) / (n_gaussians - 1)
            self.embed = nn.Sequential(nn.Linear(n_gaussians, dim), nn.SiLU(), nn.Linear(dim, dim))
        else:
            self.embed = nn.Linear(1, dim)
        self.null = nn.Parameter(torch.randn(dim) * 0.1)

    def forward(self, values: Tensor) -> Tensor:
        values = values.to(self.null)
        missing = torch.isnan(values)
        v = torch.where(missing, torch.zeros_like(values), values)
        if self.gaussian_expansion:
            e = self.embed(gaussian_grid(v, self.centres, self.width))
        else:
            e = self.embed(v[:, None])
        return torch.where(missing[:, None], self.null, e)


class PropertyCombination(nn.Module):
    """Node features h (B, N, d_h) and a property vector e (B, d) -> (B, N, d_h)."""

    def __init__(self, method: str, node_dim: int, embed_dim: int) -> None:
        super().__init__()
        if method not in PROPERTY_COMBINATIONS:
            known = ", ".join(PROPERTY_COMBINATIONS)
            raise ValueError(f"unknown property combination {method!r}; known: {known}")
        self.method = method
        if method == "concatenate":
            self.out = nn.Linear(node_dim + embed_dim, node_dim)
        else:
            self.project = nn.Linear(embed_dim, node_dim)
            if method.startswith("concatenate_"):
                self.out = nn.Linear(2 * node_dim, node_dim)

    def forward(self, h: Tensor, e: Tensor) -> Tensor:
        e = e[:, None, :].expand(-1, h.shape[1], -1)
        if self.method == "concatenate":
            return self.out(torch.cat([h, e], -1))
        p = self.project(e)
        mixed = h + p if self.method.endswith("sum") else h * p
        if self.method in ("sum", "multiply"):
            return mixed
        return self.out(torch.cat([h, mixed], -1))


class PropertyConditioner(nn.Module):
    """Embeds the named properties, sums them and combines the sum with the node features.

    ``forward(h, properties)``: h (B, N, d_h); properties maps names to normalised (B,) values,
    or is None (every property unconditional). A name not in ``names`` is a ValueError.
    """

    def __init__(
        self,
        names: tuple[str, ...],
        node_dim: int,
        *,
        embed_dim: int | None = None,
        combination: str = "concatenate",
        gaussian_expansion: bool = False,
        n_gaussians: int = 64,
    ) -> None:
        super().__init__()
        if not names or len(set(names)) != len(names):
            raise ValueError(f"need distinct property names, got {names!r}")
        self.names = tuple(names)
        embed_dim = embed_dim or node_dim
        self.embeddings = nn.ModuleDict(
            {
                p: PropertyEmbedding(
                    embed_dim, gaussian_expansion=gaussian_expansion, n_gaussians=n_gaussians
                )
                for p in self.names
            }
        )
        self.combine = PropertyCombination(combination, node_dim, embed_dim)

    def embed(self, properties: Mapping[str, Tensor] | None, batch: int) -> Tensor:
        """The summed property vector (batch, embed_dim); absent properties are unconditional.

        An absent property goes through its embedding as all-NaN values, so every parameter
        takes part in every call (DDP needs that) and the result is its null vector.
        """
        properties = {} if properties is None else properties
        check_property_names(properties, self.names)
        total = 0
        for p, emb in self.embeddings.items():
            v = properties.get(p)
            if v is None:
                v = torch.full((batch,), float("nan"), dtype=emb.null.dtype, device=emb.null.device)
            elif v.shape != (batch,):
                raise ValueError(f"property {p!r} must have shape ({batch},), got {tuple(v.shape)}")
            total = total + emb(v)
        return total

    def forward(self, h: Tensor, properties: Mapping[str, Tensor] | None) -> Tensor:
        return self.combine(h, self.embed(properties, h.shape[0]).to(h.dtype))


def check_property_names(properties: Mapping[str, Tensor], names: tuple[str, ...]) -> None:
    """Raise a ValueError naming any property that the network was not built to condition on."""
    unknown = [p for p in properties if p not in names]
    if unknown:
        built = ", ".join(names) if names else "none"
        raise ValueError(
            f"unknown property {unknown[0]!r} for this network; it conditions on: {built}"
        )
