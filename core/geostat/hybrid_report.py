"""HTML report of :func:`~remine.core.geostat.compare.compare_with_kriging`: verdict, tables and figures."""
import numpy as np

from ..report.html import HtmlReport

_COLOURS = {"ok": "#1f4e79", "hybrid": "#a0522d", "ked": "#2e8b57"}


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def loss_figure(histories):
    """Training and validation loss per epoch of every member (``histories``: list of dicts)."""
    plt = _plt()
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    for m, h in enumerate(histories):
        ax.plot(np.arange(1, len(h["loss"]) + 1), h["loss"], color="#a0522d", alpha=0.6, lw=1,
                label="training" if m == 0 else None)
        ax.plot(np.arange(1, len(h["val_loss"]) + 1), h["val_loss"], color="#1f4e79", alpha=0.6, lw=1,
                label="validation (held-out fold)" if m == 0 else None)
        if h.get("best_epoch"):
            ax.axvline(h["best_epoch"], color="#999", lw=0.6, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("MSE (standardised target)")
    ax.legend()
    ax.set_title("loss curves of the ensemble members (dotted: kept epoch)")
    return fig


def scatter_figure(predictions, models):
    """Observed against predicted (held-out folds), one panel per model."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(models), figsize=(4.2 * len(models), 4.0), squeeze=False)
    obs = predictions["observed"].to_numpy()
    lo, hi = np.nanmin(obs), np.nanmax(obs)
    for ax, m in zip(axes[0], models):
        p = predictions[m].to_numpy()
        ax.scatter(obs, p, s=9, color=_COLOURS.get(m, "#555"), alpha=0.7)
        ax.plot([lo, hi], [lo, hi], color="#555", lw=1)
        ax.set_xlabel("observed")
        ax.set_ylabel("predicted (held-out fold)")
        ax.set_title(m.upper())
    return fig


def coverage_figure(predictions, models):
    """Empirical coverage of central normal intervals ± z·std against their nominal level, per model."""
    from scipy.stats import norm

    plt = _plt()
    levels = np.linspace(0.05, 0.99, 40)
    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    obs = predictions["observed"].to_numpy()
    for m in models:
        r = np.abs(obs - predictions[m].to_numpy()) / predictions[f"{m}_std"].to_numpy()
        r = r[np.isfinite(r)]
        ax.plot(levels, [np.mean(r <= norm.ppf(0.5 + lv / 2)) for lv in levels], color=_COLOURS.get(m, "#555"),
                label=m.upper())
    ax.plot([0, 1], [0, 1], color="#555", lw=1, ls="--")
    ax.axvline(0.9, color="#999", lw=0.6, ls=":")
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("held-out points covered")
    ax.legend()
    return fig


def write_comparison_report(table, path, title="Hybrid kriging against kriging", final_histories=None,
                            notes=()):
    """Write the HTML report of a comparison table (with ``attrs["summary"]``); returns ``path``.

    ``final_histories``: loss curves of the model fitted on all samples (else those of the first fold).
    ``notes``: extra sentences (data, parameters) shown under the verdict."""
    s = table.attrs["summary"]
    models = list(dict.fromkeys(table["model"]))
    rep = HtmlReport(title)
    rep.add_heading("Verdict")
    rep.add_text(s["verdict"])
    for note in notes:
        rep.add_text(note)
    rep.add_text("All models are fitted on the same training folds and judged on the same held-out folds; the "
                 "variogram models, the covariate encoding, the networks' early stopping and the calibration of "
                 "their intervals use the training folds only. KED (kriging with external drift on the same "
                 "covariates) is the baseline for a model that sees covariates.")
    rep.add_table(s["means"], "Mean over folds (bias = mean of predicted − observed; coverage90 = share of "
                              "held-out points inside the nominal 90 % interval)")
    rep.add_table(s["pooled"], "Over all held-out points")
    rep.add_table({b: t for b, t in s["wilcoxon"].items()}, "Paired Wilcoxon signed-rank test of the fold RMSEs "
                                                             "(one-sided: hybrid lower)")
    rep.add_table(table.set_index(["fold", "model"]), "Per fold")
    if len(s["decision"].columns):
        rep.add_table(s["decision"], "Decision figures on the held-out points (false-negative rate of high-risk "
                                     "points; fraction above each cut-off and its ratio to the observed)")
    if "truth" in s:
        rep.add_table(s["truth"]["metrics"], "Against the truth (models fitted on all samples)")
        if len(s["truth"]["decision"].columns):
            rep.add_table(s["truth"]["decision"], "Decision figures against the truth")
    histories = final_histories or (s["histories"][0] if s.get("histories") else None)
    if histories:
        rep.add_figure(loss_figure(histories), "Loss curves (training and held-out validation fold per member)")
    rep.add_figure(scatter_figure(s["predictions"], models), "Observed against predicted on the held-out folds")
    rep.add_figure(coverage_figure(s["predictions"], models), "Interval coverage on the held-out folds (dashed: "
                                                              "ideal)")
    return rep.write(path)
