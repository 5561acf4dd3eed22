"""PF-ODE log-likelihood against exact log-densities."""

import math

import pytest
import torch

from scorelab import VP, ZERO_COM, Field, Interpolant, Predictor, append_dims, likelihood
from scorelab.likelihood import LikelihoodResult, log_likelihood
from scorelab.testing import GaussianMixture

F64 = torch.float64
S0 = 0.5


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def mixture_logp(target: GaussianMixture, x: torch.Tensor) -> torch.Tensor:
    """The data log-density, computed independently of the mixture's own code."""
    mix = torch.distributions.Categorical(target.weights)
    comp = torch.distributions.MultivariateNormal(target.means, target.covs)
    return torch.distributions.MixtureSameFamily(mix, comp).log_prob(x)


# --- an exact model on the CoM-free subspace ---------------------------------------------
class CoMFreeGaussian(torch.nn.Module):
    """x0 = P z, z ~ N(0, S0^2 I) on (N, 3) clouds: E[x0 | x_t] = alpha S0^2 / v(t) x_t."""

    prediction = "x0"

    def __init__(self, path) -> None:
        super().__init__()
        self.path = path

    def var(self, t):
        return self.path.alpha(t) ** 2 * S0**2 + self.path.sigma(t) ** 2

    def forward(self, x, t, **_):
        out = append_dims(self.path.alpha(t) * S0**2 / self.var(t), x.ndim) * x
        # zero on centred, zero-padded clouds; wrong if padding or the CoM leak into the input
        leak = x.sum(1, keepdim=True) * torch.arange(x.shape[1], dtype=x.dtype)[:, None]
        return out + leak

    def logp(self, x, t: float, n_real: torch.Tensor) -> torch.Tensor:
        """Closed form log p_t on the (n - 1) * 3 dimensional subspace."""
        v = self.var(torch.tensor(t, dtype=F64))
        dims = (n_real - 1) * 3
        return -0.5 * x.flatten(1).pow(2).sum(1) / v - 0.5 * dims * torch.log(2 * math.pi * v)


def clouds(batch: int, nodes: int, seed: int) -> torch.Tensor:
    return ZERO_COM.project(S0 * torch.randn(batch, nodes, 3, generator=gen(seed), dtype=F64))


# --- Gaussian mixtures --------------------------------------------------------------------
CASES = [(VP(), "eps", None), (VP(), "x0", None), (Interpolant("linear"), "x0", 1e-4)]


@pytest.mark.parametrize("dim", [2, 8])
@pytest.mark.parametrize(("path", "kind", "t_min"), CASES)
def test_gmm_log_likelihood_matches_the_exact_density(dim, path, kind, t_min):
    target = GaussianMixture.random(dim, seed=1)
    x = target.sample(64, gen())
    res = log_likelihood(target.predictor(path, kind), x, path, t_min=t_min)
    assert res.logp.shape == (64,) and res.nfe > 0
    err = (res.logp - mixture_logp(target, x)) / dim
    assert float(err.abs().max()) < 0.02  # nats/dim, data density (prior and t_min biases included)
    t0 = path.t_min if t_min is None else t_min
    err_t = (res.logp - target.log_prob_t(x, t0, path)) / dim  # what the ODE computes exactly
    assert float(err_t.abs().mean()) < 2e-3
    torch.testing.assert_close(res.logp, res.prior_logp + res.delta_logp)
    torch.testing.assert_close(res.nll_per_dim, -res.logp / dim)


def test_tight_tolerances_converge_to_the_exact_marginal():
    """Linear interpolant: the prior is exact at t = 1, so only the ODE error remains."""
    path, target = Interpolant("linear"), GaussianMixture.random(2, seed=2)
    x = target.sample(32, gen(1))
    res = log_likelihood(
        target.predictor(path, "velocity"), x, path, t_min=1e-3, rtol=1e-8, atol=1e-8
    )
    assert float((res.logp - target.log_prob_t(x, 1e-3, path)).abs().max()) < 1e-5


def test_hutchinson_is_unbiased_and_converges():
    path, target = VP(), GaussianMixture.random(4, seed=3)
    x = target.sample(64, gen(2))
    model = target.predictor(path, "x0")
    exact = log_likelihood(model, x, path).logp
    one = log_likelihood(model, x, path, divergence="hutchinson", n_probes=1, generator=gen(3)).logp
    diff = one - exact  # independent probes per sample: the batch mean tests unbiasedness
    se = float(diff.std()) / math.sqrt(diff.numel())
    assert float(diff.std()) > 1e-3  # it is a stochastic estimate
    assert abs(float(diff.mean())) < 4 * se
    many = log_likelihood(
        model, x, path, divergence="hutchinson", n_probes=64, generator=gen(4)
    ).logp
    spread = (many - exact).pow(2).mean().sqrt()
    assert float(spread) < 0.25 * float(diff.pow(2).mean().sqrt())  # ~ 1/sqrt(64) = 0.125 expected
    again = log_likelihood(
        model, x, path, divergence="hutchinson", n_probes=64, generator=gen(4)
    ).logp
    torch.testing.assert_close(many, again)


# --- geometry, padding, structured state ---------------------------------------------------
def test_zero_com_cloud_matches_the_closed_form_on_the_subspace():
    path, nodes, batch = VP(), 5, 64
    model = CoMFreeGaussian(path)
    field = Field(path, ZERO_COM)
    x = clouds(batch, nodes, seed=5)
    res = log_likelihood(Predictor(model, "x0"), x, field)
    exact = model.logp(x, path.t_min, torch.full((batch,), nodes))
    assert torch.equal(res.dims, torch.full((batch,), 12.0, dtype=F64))  # (N - 1) * 3
    assert float((res.logp - exact).abs().max()) / 12 < 1e-3
    # Hutchinson with CoM-free probes: unbiased on the subspace (independent probes per cloud)
    hutch = log_likelihood(
        Predictor(model, "x0"), x, field, divergence="hutchinson", generator=gen(6)
    ).logp
    diff = hutch - exact
    assert abs(float(diff.mean())) < 4 * float(diff.std()) / math.sqrt(batch)


@pytest.mark.parametrize("cached_basis", [True, False])
def test_padding_does_not_change_the_likelihood(cached_basis, monkeypatch):
    if not cached_basis:  # rebuild the exact-divergence basis at every evaluation
        monkeypatch.setattr(likelihood, "_CACHE_LIMIT", 0)
    path, nodes = VP(), 6
    field = Field(path, ZERO_COM)
    model = Predictor(CoMFreeGaussian(path), "x0")
    real = torch.tensor([3, 4, 6, 5, 2, 6])
    mask = (torch.arange(nodes + 2)[None] < real[:, None]).to(F64)
    base = torch.randn(6, nodes + 2, 3, generator=gen(7), dtype=F64)
    padded = (
        ZERO_COM.project(S0 * base, mask[..., None]) + 50.0 * (1 - mask)[..., None]
    )  # garbage padding
    res = log_likelihood(model, padded, field, mask=mask)
    assert torch.equal(res.dims, ((real - 1) * 3).to(F64))
    exact = CoMFreeGaussian(path).logp(padded * mask[..., None], path.t_min, real)
    torch.testing.assert_close(res.logp, exact, atol=2e-3, rtol=0)
    for i, n in enumerate(real.tolist()):  # each cloud alone, unpadded
        alone = log_likelihood(model, padded[i : i + 1, :n], field).logp
        torch.testing.assert_close(alone, res.logp[i : i + 1], atol=1e-4, rtol=0)


def test_structured_state_sums_the_fields():
    path, nodes = VP(), 4
    target = GaussianMixture.random(2, components=2, seed=8)
    cloud = CoMFreeGaussian(path)
    feats = target.predictor(path, "x0")

    def net(x, t):
        return {"pos": cloud(x["pos"], t), "h": feats(x["h"], t)}

    x = {"pos": clouds(16, nodes, seed=9), "h": target.sample(16, gen(10))}
    paths = {"pos": Field(path, ZERO_COM), "h": path}
    res = log_likelihood(Predictor(net, "x0"), x, paths)
    exact = cloud.logp(x["pos"], path.t_min, torch.full((16,), nodes)) + target.log_prob_t(
        x["h"], path.t_min, path
    )
    assert torch.equal(res.dims, torch.full((16,), 9.0 + 2.0, dtype=F64))
    assert float((res.logp - exact).abs().max()) / 11 < 2e-3


# --- API --------------------------------------------------------------------------------
def test_bits_per_dim_conventions():
    nll = torch.tensor([1.0, 2.5], dtype=F64)
    res = LikelihoodResult(-nll * 3, nll, nll, nll, torch.full((2,), 3.0, dtype=F64), 1)
    torch.testing.assert_close(res.bits_per_dim(), nll / math.log(2))
    # 8-bit data on [-1, 1]: cells of width 2/256, + log2(128) = 7 bits per dim
    torch.testing.assert_close(res.bits_per_dim(bins=256, data_range=2.0), nll / math.log(2) + 7.0)
    torch.testing.assert_close(res.bits_per_dim(bins=256, data_range=256.0), nll / math.log(2))
    with pytest.raises(ValueError, match="bins"):
        res.bits_per_dim(bins=0)


def test_dequantised_uniform_data_has_zero_discrete_nll():
    """U[-1, 1]^3 has density 2^-3; cut into 4 bins per dim, each cell has probability 1/4."""
    res = LikelihoodResult(
        logp=torch.tensor([-3 * math.log(2.0)]),
        nll_per_dim=torch.tensor([math.log(2.0)]),
        prior_logp=torch.zeros(1),
        delta_logp=torch.zeros(1),
        dims=torch.tensor([3.0]),
        nfe=0,
    )
    torch.testing.assert_close(res.bits_per_dim(bins=4, data_range=2.0), torch.tensor([2.0]))
    torch.testing.assert_close(res.bits_per_dim(), torch.tensor([1.0]))


def test_results_are_detached_and_input_untouched():
    net = torch.nn.Linear(2, 2).double()
    model = Predictor(lambda x, t: net(x), "velocity")
    x = torch.randn(4, 2, generator=gen(), dtype=F64)
    before = x.clone()
    res = log_likelihood(model, x, Interpolant("linear"), rtol=1e-4, atol=1e-4)
    assert not res.logp.requires_grad and net.weight.grad is None
    assert torch.equal(x, before)


def test_unbatched_fallback_gives_the_same_divergence(monkeypatch):
    path, target = VP(), GaussianMixture.random(3, seed=4)
    x = target.sample(8, gen(5))
    model = target.predictor(path, "x0")
    batched = log_likelihood(model, x, path, rtol=1e-6, atol=1e-6)
    grad = torch.autograd.grad

    def no_vmap(*args, is_grads_batched=False, **kw):
        if is_grads_batched:
            raise RuntimeError("no batching rule")
        return grad(*args, **kw)

    monkeypatch.setattr(torch.autograd, "grad", no_vmap)
    looped = log_likelihood(model, x, path, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(looped.logp, batched.logp)
    assert looped.nfe == batched.nfe


@pytest.mark.parametrize(("method", "options"), [("dopri5", None), ("rk4", {"step_size": 0.05})])
def test_the_model_is_only_called_inside_the_time_range(method, options):
    path, target = Interpolant("linear"), GaussianMixture.random(2, seed=6)
    inner, seen = target.predictor(path, "x0"), []

    def net(x, t):
        seen.append(t)
        return inner(x, t)

    x = target.sample(16, gen(7))
    res = log_likelihood(Predictor(net, "x0"), x, path, t_min=0.01, method=method, options=options)
    times = torch.cat(seen)
    assert float(times.min()) >= 0.01 and float(times.max()) <= 1.0
    assert res.nfe == len(seen)
    tol = 1e-3 if method == "dopri5" else 1e-2
    assert float((res.logp - target.log_prob_t(x, 0.01, path)).abs().max()) / 2 < tol


def test_a_velocity_that_ignores_the_state_leaves_the_prior():
    x = torch.randn(8, 3, generator=gen(), dtype=F64)
    still = Predictor(lambda x, t: torch.zeros_like(x), "velocity")
    res = log_likelihood(still, x, VP(), divergence="exact")
    torch.testing.assert_close(res.delta_logp, torch.zeros(8, dtype=F64))
    torch.testing.assert_close(res.logp, torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1))


def test_errors_name_the_problem():
    path, target = Interpolant("linear"), GaussianMixture.random(2, seed=0)
    x = target.sample(4, gen())
    with pytest.raises(ValueError, match="exact, hutchinson"):
        log_likelihood(target.predictor(path), x, path, divergence="skilling")
    with pytest.raises(ValueError, match="t_min"):  # sigma(0) = 0 with an x0 model
        log_likelihood(target.predictor(path, "x0"), x, path)
    bad = x.clone()
    bad[0, 0] = float("inf")
    with pytest.raises(ValueError, match="inf"):
        log_likelihood(target.predictor(path, "x0"), bad, path, t_min=1e-3)
