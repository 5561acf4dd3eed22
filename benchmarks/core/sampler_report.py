"""Report of the sampler benchmark: the markdown / JSON tables and the error-vs-NFE figure.

``build_report`` turns the rows of ``sampler_sweeps`` into a ``benchmarks.harness.Report``
(targets and floors, W2 vs NFE budget per target with ``_pivot``, W2 to the exact PF-ODE law,
the adaptive sampler, and the peer comparisons); ``plot`` draws W2 vs NFE for every target,
ours and the peers, with the estimator floors, and returns the saved path (or why there is no
plot when matplotlib is missing).
"""

from __future__ import annotations

import math
import statistics
from pathlib import Path

from ..harness import Column, Report, save_figure_atomic
from .sampler_targets import DETERMINISTIC


def _pivot(rows, targets, nfes, value: str, only=None) -> dict[str, list[dict]]:
    out = {}
    for t in targets:
        table = {}
        for r in rows:
            if (
                r["target"] != t.name
                or r["sampler"] == "adaptive"
                or (only and r["sampler"] not in only)
            ):
                continue
            entry = table.setdefault(
                r["sampler"], {"sampler": r["sampler"], "kind": r.get("error_kind")}
            )
            entry[f"nfe{r['nfe_budget']}"] = r.get(value)
            if r.get("status"):
                entry["kind"] = r["status"]
            for k in ("ms_per_step", "overhead_ms_per_step"):
                if r.get(k) is not None:
                    entry.setdefault(f"_{k}", []).append(r[k])
        for entry in table.values():
            for k in ("ms_per_step", "overhead_ms_per_step"):
                vals = entry.pop(f"_{k}", [])
                entry[k] = statistics.median(vals) if vals else None
        out[t.name] = list(table.values())
    return out


def build_report(meta, info, main_rows, comparisons, targets, nfes) -> Report:
    report = Report(
        "scorelab samplers: error vs NFE on exact targets, and against peers",
        f"Command: `{meta['command']}` ({meta['runtime_s']:.0f} s). "
        f"Machine: {meta['cpu_count']} CPUs, "
        f"torch {meta.get('torch_version')} with {meta.get('torch_threads')} thread(s), float64, "
        f"{meta['date']}. Peers: "
        + "; ".join(f"{k}: {v}" for k, v in meta["peers"].items())
        + ".\n\nError = W2 between the sampler's output law and the target's marginal at the "
        "grid's last time (exact where the output is Gaussian, see the docstring of "
        "`benchmarks/core/samplers.py`); lower is better.",
    )
    report.add(
        "Targets",
        "floor: the empirical estimator between the fixed reference set and 3 independent "
        "target sets of size n, mean ± std (its noise floor). prior-mismatch W2 (Gaussians): "
        "W2 between the exact PF-ODE law from N(0, I) at t = 1 and the target at t = 1e-3, "
        "the floor of every ODE sampler on VP. heun from exact p_T (mixtures): the error of "
        f"heun at NFE {nfes[-1]} started from the exact marginal at t = 1 instead of N(0, I). "
        "VP(0.1, 20) keeps alpha(1) = 6.6e-3 of the data: with mixture means of norm ~16 "
        "(gmm4-64d) the N(0, I) prior shifts the component weights the PF-ODE delivers: "
        "this, not the solvers, is why the ODE samplers level off above the floor there "
        "(heun from the exact p_T reaches it); the stochastic samplers partly correct it.",
        info,
        [
            "target",
            "dim",
            "components",
            "n",
            "estimator",
            Column("floor_pm", "floor"),
            Column("prior_mismatch_w2", "prior-mismatch W2"),
            Column("exact_prior_heun", "heun from exact p_T"),
        ],
    )
    nfe_cols = [Column(f"nfe{n}", f"NFE {n}") for n in nfes]
    time_cols = [
        Column("ms_per_step", "ms/step", ".3g"),
        Column("overhead_ms_per_step", "overhead ms/step", ".3g"),
    ]
    pivot = _pivot(main_rows, targets, nfes, "error")
    for t in targets:
        report.add(
            f"{t.name}: W2 to target vs NFE budget (VP, Karras grid)",
            "Columns are NFE budgets; steps = budget // NFE per step (heun and pc use 4 NFE at "
            "budget 5). ms/step: median over budgets, on n samples; overhead excludes model time.",
            pivot[t.name],
            [Column("sampler"), Column("kind", "error")] + nfe_cols + time_cols,
        )
    ode = _pivot(main_rows, [t for t in targets if t.gaussian], nfes, "error_vs_ode", DETERMINISTIC)
    for name, rows in ode.items():
        report.add(
            f"{name}: W2 to the exact PF-ODE law (discretisation error alone)",
            rows=rows,
            columns=[Column("sampler")] + nfe_cols,
        )
    adaptive = [r for r in main_rows if r["sampler"] == "adaptive"]
    report.add(
        "adaptive (dopri5, rtol = atol = tol): NFE and error",
        "Its step sizes depend on the whole batch (torchdiffeq's error norm is an RMS over "
        "it), so on Gaussian targets the affine probes run appended to the n prior samples. "
        "ms/step is per NFE.",
        adaptive,
        [
            "target",
            Column("tol", spec=".0e"),
            "nfe",
            "error",
            Column("error_vs_ode", "W2 to ODE law"),
            Column("ms_per_step", "ms/NFE"),
            Column("status"),
        ],
    )
    report.add(
        "Peers: same grid, same exact model, same prior draw",
        "diff = ours - peer; out rel diff = |x_ours - x_peer| / |x_peer| over the whole batch "
        "(identical algorithms: ~1e-16 in float64; diffusers keeps its schedule in float32 and "
        "DPMSolverMultistepScheduler.step casts the sample to float32: ~1e-7, up to ~1e-5 on "
        "a mixture where a few samples near a basin boundary amplify the rounding, as our own "
        "float32 run does). time ratio = ours / peer ms per step (model included); "
        "overhead ratio excludes the model. diffusers on VP (eps model, its own timesteps), "
        "k-diffusion on EDM (x0 model, Karras sigmas without a final 0). "
        + " ".join(f"{k}: {'; '.join(v)}." for k, v in meta.get("peer_notes", {}).items()),
        comparisons,
        [
            "target",
            "pair",
            Column("nfe_budget", "NFE"),
            Column("error_ours", "ours"),
            Column("error_peer", "peer"),
            Column("error_diff", "diff", ".2e"),
            Column("out_rel_diff", "out rel diff", ".1e"),
            Column("ms_ours", "ours ms/step"),
            Column("ms_peer", "peer ms/step"),
            Column("time_ratio", "time ratio", ".2f"),
            Column("overhead_ratio", "overhead ratio", ".2f"),
            Column("status"),
        ],
    )
    return report


def plot(path: Path, targets, main_rows, peer_rows, nfes) -> Path | str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import NullFormatter, ScalarFormatter
    except ImportError as exc:
        return f"no plot: {exc}"
    gauss = [t for t in targets if t.gaussian]
    panels = [(t, "error") for t in targets] + [(t, "error_vs_ode") for t in gauss]
    cols = 3
    fig, axes = plt.subplots(
        math.ceil(len(panels) / cols),
        cols,
        figsize=(5 * cols, 4 * math.ceil(len(panels) / cols)),
        squeeze=False,
    )
    names = sorted({r["sampler"] for r in main_rows})
    colors = {n: plt.cm.tab10(i % 10) for i, n in enumerate(names)}
    for ax, (t, key) in zip(axes.flat, panels):
        for name in names:
            pts = sorted(
                (r["nfe"], r[key])
                for r in main_rows
                if r["target"] == t.name and r["sampler"] == name and r.get(key) and r.get("nfe")
            )
            if pts:
                ax.plot(*zip(*pts), "o-", color=colors[name], label=name, ms=3)
        for label in sorted({r["pair"] for r in peer_rows}):
            pts = sorted(
                (r["nfe"], r[key])
                for r in peer_rows
                if r["target"] == t.name
                and r["pair"] == label
                and r["impl"] != "scorelab"
                and r.get(key)
                and r.get("nfe")
            )
            if pts:
                diffusers = "diffusers" in label
                ax.plot(
                    *zip(*pts),
                    "--" if diffusers else "-.",
                    color=colors.get(label.split()[0], "k"),
                    alpha=0.8,
                    label=f"{label.split(' vs ')[1]} ({'VP' if diffusers else 'EDM'})",
                )
        if key == "error":
            floors = {r.get("floor") for r in main_rows if r["target"] == t.name and r.get("floor")}
            for f in floors:
                ax.axhline(f, color="grey", ls=":", lw=1)
        ax.set(
            xscale="log",
            yscale="log",
            xlabel="NFE",
            title=f"{t.name}: " + ("W2 to target" if key == "error" else "W2 to exact PF-ODE law"),
        )
        ax.set_xticks(list(nfes))  # after set(xscale=...), which resets ticks and formatters
        ax.xaxis.set_major_formatter(ScalarFormatter())
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.grid(True, which="both", alpha=0.2)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    handles, labels = {}, []
    for ax in axes.flat:
        for h, lab in zip(*ax.get_legend_handles_labels()):
            handles.setdefault(lab, h)
    labels = list(handles)
    fig.legend(
        [handles[k] for k in labels], labels, loc="lower center", ncol=4, fontsize=8, frameon=False
    )
    fig.suptitle(
        "scorelab samplers on VP, Karras grid (solid); peers: diffusers on VP (dashed), "
        "k-diffusion on EDM (dash-dot); dotted: estimator floor"
    )
    fig.tight_layout(rect=(0, 0.08, 1, 0.97))
    out = save_figure_atomic(fig, path)
    plt.close(fig)
    return out
