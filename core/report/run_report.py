"""One self-contained HTML report of a run, built from its passports (remine:report).

Sections appear when the run has the products they describe: data summary and file check, lineage
diagram, spectra, classification (cross-validation scores, confusion matrix, map against the truth),
abundances (means, interval widths, RMSE and interval coverage against the truth), geostatistics
(variograms, kriging cross-validation), hybrid models, grade–tonnage and 3D views, then every
passport. Figures are PNGs inlined as data URIs and the lineage an inline SVG: the file loads nothing.

The demo scene's truth rasters (``truth_class``, ``truth_abundance``, ``truth_grades`` from
remine:createdemodata) are found among the run's outputs or beside a scene file in the lineage.
"""
import html
import json
import os

import numpy as np

from ..raster import open_raster, raster_info, read_class_names
from .html import HtmlReport
from .lineage import lineage_svg
from .passport import read_passport
from .run import load_run
from .truth import abundance_accuracy, class_map_accuracy, grade_accuracy
from .uncertainty import read_decimated

MAX_CELLS = 400 * 400          # cells read per quicklook or spectrum (decimated above that)
HYBRID = ("hybridkriging",)
TRUTHS = ("truth_class", "truth_abundance", "truth_grades")
TONNAGE_COLUMNS = ("cutoff", "tonnes", "tonnes_p10", "tonnes_p50", "tonnes_p90", "mean_grade", "metal")
VOLUME = ("tailingsvolume",)


def build_report(source, out_path, title="remine run report"):
    """Write the report of the run at ``source`` (folder or list of outputs, see :func:`load_run`).

    Returns ``{"path", "summary", "problems"}``: ``summary`` holds the headline figures found
    (cross-validated accuracy, map accuracy, abundance RMSE and coverage, kriging CV RMSE, tonnage…),
    ``problems`` the files that moved, changed or vanished since the run (as dicts).
    """
    run = load_run(source)
    report = HtmlReport(title)
    summary = {}
    _overview(report, run)
    truth = _truth_files(run)
    for section in (_spectra, _classification, _abundances, _geostatistics, _hybrid, _tonnage):
        summary.update(section(report, run, truth))
    _passports(report, run)
    if summary:
        report.parts.insert(0, "<h2>Headline figures</h2>" + _table({k: _fmt(v) for k, v in summary.items()}))
    report.write(out_path)
    return {"path": out_path, "summary": summary, "problems": [vars(p) for p in run.problems]}


# ----------------------------------------------------------------------------------------- helpers
def _fmt(value):
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (list, dict)):
        text = json.dumps(value)
        return text if len(text) <= 120 else text[:117] + "…"
    return str(value)


def _table(rows, header=("", "value")):
    """HTML table from ``{label: value}`` or a list of row tuples (first row = ``header``)."""
    rows = list(rows.items()) if isinstance(rows, dict) else rows
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(c))}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _figure(ncols=1, width=5.0, height=3.6):
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width * ncols, height))
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _truth_files(run):
    """``{"truth_class"|"truth_abundance"|"truth_grades": path}``: remine:createdemodata outputs of the run, or
    found beside a remine:createdemodata ancestor (the scene's folder) with their passports."""
    found = {}
    candidates = [(e.algorithm, e.file) for e in run.entries]
    for e in run.entries:
        candidates += [(a["algorithm"], a["output"]["path"]) for a in e.passport.get("lineage", [])]
    for algorithm, path in candidates:
        if algorithm != "remine:createdemodata":
            continue
        for stem in TRUTHS:
            beside = os.path.join(os.path.dirname(path), f"{stem}.tif")
            if stem not in found and (read_passport(beside) or {}).get("algorithm") == algorithm:
                found[stem] = beside
    return found


def _one_per_run(entries):
    """One entry per algorithm run (outputs of one run share their passport's start time)."""
    return list({(e.algorithm, e.passport.get("started")): e for e in reversed(entries)}.values())[::-1]


def _safe(fn, *args):
    """``fn(*args)`` or ``{"error": message}`` when the product and the truth do not match."""
    try:
        return fn(*args)
    except ValueError as exc:
        return {"error": str(exc)}


# ----------------------------------------------------------------------------------------- sections
def _overview(report, run):
    software = run.entries[0].passport.get("software", {}) if run.entries else {}
    times = sorted(e.passport.get("finished", "") for e in run.entries)
    report.add_heading("Run")
    report.parts.append(_table({"folder": run.root or "", "outputs": len(run.entries),
                                "algorithms": ", ".join(sorted({e.algorithm for e in run.entries})),
                                "first output": times[0] if times else "", "last output": times[-1] if times else "",
                                "software": ", ".join(f"{k} {v}" for k, v in software.items())}))
    rows = []
    for e in run.entries:
        ext = e.passport.get("extent") or {}
        size = (f"{ext['width']} × {ext['height']} × {ext['bands']}" if "width" in ext
                else f"{ext['features']} features" if "features" in ext else "")
        rows.append((run.relative(e.file), e.algorithm, e.passport.get("crs") or "", size,
                     e.passport.get("uncertainty", {}).get("kind", "")))
    report.add_heading("Data summary")
    report.parts.append(_table(rows, ("output", "algorithm", "CRS", "size", "uncertainty")))
    report.add_heading("File check")
    if run.problems:
        report.parts.append(f"<p class='warn'><b>{len(run.problems)} file(s) are not as their passports say</b> "
                            "(moved, modified or missing since the run):</p>")
        report.parts.append(_table([(p.problem, run.relative(p.file), p.role, p.detail) for p in run.problems],
                                   ("problem", "file (as recorded)", "role", "detail")))
    else:
        report.add_text(f"All {len(run.entries)} outputs and their inputs are where their passports say, "
                        "with the same SHA-256.")
    if run.temporary:
        report.add_text(f"{len(run.temporary)} input(s) were intermediate files of model runs, removed with QGIS's "
                        "temporary folder; their passports remain in the lineage: "
                        + ", ".join(sorted({os.path.basename(p.file) for p in run.temporary})) + ".")
    report.add_heading("Lineage")
    report.parts.append(f"<div class='lineage'>{lineage_svg(run)}</div>")


def _spectra(report, run, truth):
    cubes = []
    for e in run.entries:
        ext = e.passport.get("extent") or {}
        if ext.get("bands", 0) >= 10 and os.path.isfile(e.file):
            try:
                wl = raster_info(e.file).wavelengths_nm
            except ValueError:
                continue
            if wl is not None:
                cubes.append((e, np.asarray(wl)))
    if not cubes:
        return {}
    report.add_heading("Spectra")
    fig, (ax,) = _figure(width=9, height=4)
    for e, wl in cubes[:4]:
        data, _, _ = read_decimated(e.file, max_cells=MAX_CELLS)
        table = data.reshape(data.shape[0], -1)
        table = table[:, np.isfinite(table).all(axis=0)]
        if not table.size:
            continue
        lo, mid, hi = np.quantile(table, (0.1, 0.5, 0.9), axis=1)
        line, = ax.plot(wl, mid, lw=1.2, label=f"{run.relative(e.file)} ({e.algorithm.split(':')[1]})")
        ax.fill_between(wl, lo, hi, color=line.get_color(), alpha=0.15)
    ax.set_xlabel("wavelength (nm)")
    ax.set_ylabel("value (median, 10–90 % of pixels)")
    ax.legend(fontsize=8)
    report.add_figure(fig, "Median spectrum of each cube of the run with the 10–90 % band of its pixels")
    return {}


def _quicklook(report, path, caption, cmap="viridis", classes=None):
    data, names, b = read_decimated(path, [1], MAX_CELLS)
    fig, (ax,) = _figure(width=5.5, height=4.6)
    extent = (b.left, b.right, b.bottom, b.top)
    if classes:
        from matplotlib.colors import ListedColormap

        k = len(classes)
        with open_raster(path) as ds:
            try:
                table = ds.colormap(1)             # the map's own colours (remine's mineral colours)
            except ValueError:
                table = {}
        colours = ListedColormap([tuple(c / 255 for c in table[i][:3]) if i in table else
                                  ("#ffffff" if i == 0 else f"C{i - 1}") for i in range(k)])
        im = ax.imshow(data[0], cmap=colours, vmin=-0.5, vmax=k - 0.5, extent=extent, interpolation="nearest")
        cb = fig.colorbar(im, ax=ax, ticks=range(k))
        cb.ax.set_yticklabels(classes, fontsize=7)
    else:
        im = ax.imshow(data[0], cmap=cmap, extent=extent, interpolation="nearest")
        fig.colorbar(im, ax=ax, label=names[0])
    ax.set_xlabel("x (m)")
    ax.set_ylabel("y (m)")
    ax.ticklabel_format(useOffset=False, style="plain")
    ax.tick_params(labelsize=7)
    report.add_figure(fig, caption)


def _classification(report, run, truth):
    trained, maps = _one_per_run(run.by_algorithm("trainclassifier")), run.by_algorithm("predictraster")
    if not trained and not maps:
        return {}
    report.add_heading("Classification")
    summary = {}
    for e in trained:
        m = e.passport["metrics"]
        report.add_text(f"{e.name}: {m.get('method')} with {m.get('scheme')} cross-validation "
                        f"({m.get('n_splits')} folds, {m.get('n_samples')} samples).")
        report.parts.append(_table({k: m[k] for k in ("overall_accuracy", "kappa", "balanced_accuracy", "macro_f1")
                                    if k in m}))
        summary.setdefault("classifier CV overall accuracy", m.get("overall_accuracy"))
        if "confusion_matrix" in m and m.get("classes"):
            cm, classes = np.asarray(m["confusion_matrix"]), m["classes"]
            k = len(classes)
            fig, (ax,) = _figure(width=1.6 + 0.55 * k, height=1.2 + 0.5 * k)
            ax.imshow(cm, cmap="Oranges")
            for i in range(k):
                for j in range(k):
                    ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=8)
            ax.set_xticks(range(k), classes, rotation=60, ha="right")
            ax.set_yticks(range(k), classes)
            ax.set_xlabel("predicted")
            ax.set_ylabel("true")
            report.add_figure(fig, f"Out-of-fold confusion matrix of {e.name}")
    for e in maps:
        names = read_class_names(e.file) if os.path.isfile(e.file) else None
        if not names:                     # probabilities and uncertainty rasters carry no class names
            continue
        _quicklook(report, e.file, f"Class map {run.relative(e.file)}", classes=names)
        if "truth_class" in truth:
            acc = _safe(class_map_accuracy, e.file, truth["truth_class"])
            report.parts.append(_table({"map against truth_class": acc.get("overall_accuracy", acc.get("error")),
                                        "cells compared": acc.get("n_cells", "")}))
            if "overall_accuracy" in acc:
                summary.setdefault("map overall accuracy against the truth", acc["overall_accuracy"])
    return summary


def _abundances(report, run, truth):
    entries = run.by_algorithm("unmix", "closecomposition")
    if not entries:
        return {}
    report.add_heading("Abundances")
    summary = {}
    for e in entries:
        m, unc = e.passport["metrics"], e.passport.get("uncertainty", {})
        means = m.get("mean_abundance_percent") or {}
        widths = unc.get("mean_width") or {}
        if means:
            fig, (ax,) = _figure(width=7, height=3.4)
            names = list(means)
            ax.bar(names, [means[n] for n in names], color="#c8a27a",
                   yerr=[[0] * len(names), [widths.get(n, 0) for n in names]] if widths else None, capsize=3)
            ax.set_ylabel("mean abundance (%)")
            ax.tick_params(axis="x", rotation=45, labelsize=8)
            report.add_figure(fig, f"{e.name}: mean abundance per mineral"
                              + (f"; whiskers = mean width of the {unc.get('level')} intervals" if widths else ""))
        if "truth_abundance" in truth and os.path.isfile(e.file):
            acc = _safe(abundance_accuracy, e.file, truth["truth_abundance"])
            if "error" in acc:
                report.add_text(f"{e.name} against truth_abundance: {acc['error']}")
                continue
            rows = [(name, acc["rmse_percent"][name], acc.get("coverage", {}).get(name, ""))
                    for name in acc["rmse_percent"]]
            report.parts.append(f"<h3>{html.escape(e.name)} against the truth</h3>")
            report.parts.append(_table(rows, ("mineral", "RMSE (% points)", f"interval coverage "
                                                                           f"(nominal {unc.get('level', '')})")))
            summary.setdefault("abundance RMSE against the truth (% points)", acc["mean_rmse_percent"])
            if "mean_coverage" in acc:
                summary.setdefault("abundance interval coverage (mean)", acc["mean_coverage"])
    return summary


def _geostatistics(report, run, truth):
    import pandas as pd

    variograms = [e for e in run.by_algorithm("variogram") if e.file.endswith(".csv")]
    kriged = [e for e in run.by_algorithm("ordinarykriging", "externaldriftkriging")
              if os.path.isfile(e.file) and e.file.lower().endswith((".tif", ".tiff"))
              and read_decimated(e.file, [1], 1)[1] == ["prediction"]]
    cvs = _one_per_run(sorted(run.by_algorithm("krigingcrossvalidation"), key=lambda e: not e.file.endswith(".csv")))
    if not (variograms or kriged or cvs):
        return {}
    report.add_heading("Geostatistics")
    summary = {}
    for e in variograms:
        if not os.path.isfile(e.file):
            continue
        table = pd.read_csv(e.file)
        fig, (ax,) = _figure(width=6.5, height=3.8)
        ax.scatter(table["dist"], table["gamma"], s=12 + 30 * table["np"] / table["np"].max(), color="#a0522d",
                   label="sample variogram")
        if "model" in table:
            ax.plot(table["dist"], table["model"], color="k", lw=1, label="fitted model")
        ax.set_xlabel("lag distance (m)")
        ax.set_ylabel("semivariance")
        ax.legend(fontsize=8)
        model = ", ".join(f"{k} {_fmt(v)}" for k, v in (e.passport["metrics"].get("model") or {}).items())
        report.add_figure(fig, f"Variogram of {e.passport['parameters'].get('FIELD', '')} ({e.name}): {model}")
    rows = []
    for e in kriged:
        cv = e.passport["metrics"].get("cross_validation") or {}
        row = [e.name, e.algorithm.split(":")[1], e.passport["parameters"].get("FIELD", ""),
               cv.get("rmse", ""), cv.get("mae", ""), cv.get("r2", ""), cv.get("msdr", "")]
        field = e.passport["parameters"].get("FIELD")
        if cv:
            summary.setdefault(f"kriging CV RMSE ({field}, leave-one-out)", cv["rmse"])
        if "truth_grades" in truth and field:
            acc = _safe(grade_accuracy, e.file, truth["truth_grades"], field)
            row.append(acc.get("rmse", acc.get("error")))
            if "rmse" in acc:
                summary.setdefault(f"kriged {field} RMSE against the truth", acc["rmse"])
        else:
            row.append("")
        rows.append(row)
        _quicklook(report, e.file, f"{run.relative(e.file)} ({e.algorithm.split(':')[1]} of {field})")
    for e in cvs:
        m, field = e.passport["metrics"], e.passport["parameters"].get("FIELD", "")
        scheme = e.passport.get("uncertainty", {}).get("scheme", "")
        rows.append([e.name, f"cross-validation ({scheme})", field, m.get("rmse", ""), m.get("mae", ""),
                     m.get("r2", ""), m.get("msdr", ""), ""])
        summary.setdefault(f"kriging CV RMSE ({field}, {scheme})", m.get("rmse"))
        if e.file.endswith(".csv") and os.path.isfile(e.file):
            table = pd.read_csv(e.file)
            fig, (ax,) = _figure(width=4.6, height=4.2)
            ax.scatter(table["observed"], table["predicted"], s=8, color="#a0522d")
            both = table[["observed", "predicted"]].values
            lim = [np.nanmin(both), np.nanmax(both)]
            ax.plot(lim, lim, color="k", lw=0.8)
            ax.set_xlabel("observed")
            ax.set_ylabel("predicted (cross-validation)")
            report.add_figure(fig, f"Cross-validation of {e.passport['parameters'].get('FIELD', '')} ({e.name})")
    if rows:
        report.parts.append("<h3>Kriging cross-validation</h3>")
        report.parts.append(_table(rows, ("output", "method", "field", "RMSE", "MAE", "R²", "MSDR",
                                          "RMSE against the truth")))
    return summary


def _metrics_section(report, entries, heading):
    """A generic section: each output's metrics (one table per algorithm run), its PNG figures inlined; the
    RMSEs, volume and tonnes go to the headline figures."""
    report.add_heading(heading)
    summary = {}
    for e in entries:
        if e.file.lower().endswith(".png") and os.path.isfile(e.file):
            _inline_png(report, e.file, e.name)
            continue
        flat = _flatten(e.passport.get("metrics", {}))
        if flat:
            report.parts.append(f"<h3>{html.escape(e.name)}</h3>" + _table(flat))
        summary.update({k: v for k, v in flat.items() if "rmse" in k.lower() or k in ("volume_m3", "tonnes")})
    return summary


def _flatten(metrics, prefix=""):
    out = {}
    for k, v in metrics.items():
        if isinstance(v, dict) and len(v) <= 12:
            out.update(_flatten(v, f"{prefix}{k} "))
        else:
            out[f"{prefix}{k}"] = v
    return out


def _hybrid(report, run, truth):
    entries = run.by_algorithm(*HYBRID)
    if not entries:
        return {}
    pngs = [e for e in entries if e.file.lower().endswith(".png")]
    runs = _one_per_run([e for e in entries if e not in pngs])
    summary = _metrics_section(report, runs + pngs, "Hybrid model against kriging")
    for e in runs:
        field = e.passport["parameters"].get("FIELD", "")
        if e.passport["metrics"].get("verdict"):
            summary[f"hybrid against kriging ({field})"] = e.passport["metrics"]["verdict"]
    return summary


def _tonnage(report, run, truth):
    """Metrics, grade–tonnage table (headline: tonnes above each cut-off with P10–P90) and the algorithm's own
    figures (grade–tonnage curves with bands, 3D snapshots)."""
    import pandas as pd

    entries = run.by_algorithm(*VOLUME)
    if not entries:
        return {}
    summary = {}
    tables = [e for e in entries if e.file.endswith(".csv") and os.path.isfile(e.file)]
    others = _one_per_run([e for e in entries if e not in tables and not e.file.endswith(".png")])
    summary.update(_metrics_section(report, others, "Grade–tonnage and 3D views"))
    for e in tables:
        table = pd.read_csv(e.file)
        if not {"cutoff", "tonnes"} <= set(table.columns):
            continue
        field = e.passport["parameters"].get("GRADE_FIELD", "grade")
        banded = {"tonnes_p10", "tonnes_p90"} <= set(table.columns)
        columns = [c for c in TONNAGE_COLUMNS if c in table.columns]
        report.parts.append(_table([tuple(r) for r in table[columns].itertuples(index=False)], tuple(columns)))
        for r in table.itertuples(index=False):
            band = f" (P10 {r.tonnes_p10:,.0f} – P90 {r.tonnes_p90:,.0f})" if banded else ""
            summary[f"tonnes above {r.cutoff:g} {field}"] = f"{r.tonnes:,.0f} t{band}"
    for e in entries:
        if e.file.lower().endswith(".png") and os.path.isfile(e.file):
            _inline_png(report, e.file, f"{run.relative(e.file)} ({e.algorithm.split(':')[1]})")
    return summary


def _inline_png(report, path, caption):
    import base64

    with open(path, "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    report.parts.append(f"<figure><img alt='{html.escape(caption)}' src='data:image/png;base64,{data}'>"
                        f"<figcaption>{html.escape(caption)}</figcaption></figure>")


def _passports(report, run):
    report.add_heading("Passports")
    for e in run.entries:
        body = {k: v for k, v in e.passport.items() if k != "lineage"}
        body["lineage"] = f"{len(e.passport.get('lineage', []))} ancestor passport(s)"
        report.parts.append(f"<details><summary>{html.escape(run.relative(e.file))} — {html.escape(e.algorithm)}"
                            f"</summary><pre>{html.escape(json.dumps(body, indent=1))}</pre></details>")
