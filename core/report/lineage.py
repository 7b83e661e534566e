"""Lineage diagram of a run: which output came from which inputs, as an inline SVG (no scripts, no fonts
fetched). Files are nodes, laid out in columns by generation (inputs that no passport of the run
produced on the left); an edge joins each input to each output made from it. A file is the same node
wherever it moved, since nodes are keyed by SHA-256.
"""
import html
import os
from collections import defaultdict

from .run import is_temporary

COL_W, BOX_W, ROW_H, BOX_H, PAD = 225, 190, 40, 30, 10
COLOURS = {"ok": "#f4efe9", "input": "#e8eef4", "moved": "#fff3c4", "modified": "#f8c9c4", "missing": "#f8c9c4",
           "temporary": "#eeeeee"}


def lineage_graph(run):
    """``(nodes, edges)``: nodes ``{key: {"label", "algorithm", "status"}}``, edges ``[(input key, output key)]``.

    The run's outputs and every ancestor named in their lineage (intermediate files of model runs too) are
    nodes; inputs that no passport describes are raw inputs.
    """
    status = {}
    for p in run.problems:
        status.setdefault(p.file, p.problem)
    passports = {}
    for e in run.entries:
        passports[_key(e.passport)] = (e.passport, e.file)
    for e in run.entries:
        for ancestor in e.passport.get("lineage", []):
            passports.setdefault(_key(ancestor), (ancestor, ancestor["output"]["path"]))
    nodes, edges = {}, []
    for key, (passport, path) in passports.items():
        recorded = passport["output"]["path"]
        state = status.get(recorded, "ok")
        if state == "ok" and not os.path.exists(path):
            state = "temporary" if is_temporary(path) else "missing"
        nodes[key] = {"label": os.path.basename(path), "algorithm": passport["algorithm"].split(":", 1)[1],
                      "status": state}
    for key, (passport, _) in passports.items():
        for item in passport.get("inputs", []):
            nodes.setdefault(item["sha256"], {"label": os.path.basename(item["path"]), "algorithm": "input",
                                              "status": status.get(item["path"], "input")})
            edges.append((item["sha256"], key))
    return nodes, edges


def _key(passport):
    return passport["output"].get("sha256") or passport["output"]["path"]


def lineage_svg(run):
    """The run's lineage diagram as an SVG string (width and height in px follow the graph)."""
    nodes, edges = lineage_graph(run)
    parents = defaultdict(list)
    for a, b in edges:
        parents[b].append(a)
    depth = {}

    def level(key, seen=()):
        if key not in depth:
            depth[key] = 0 if key in seen else 1 + max((level(p, seen + (key,)) for p in parents[key]), default=-1)
        return depth[key]

    columns = defaultdict(list)
    for key in nodes:
        columns[level(key)].append(key)
    pos = {}
    for col, keys in columns.items():
        for row, key in enumerate(sorted(keys, key=lambda k: (nodes[k]["algorithm"], nodes[k]["label"]))):
            pos[key] = (PAD + col * COL_W, PAD + row * ROW_H)
    width = PAD * 2 + (max(columns) + 1) * COL_W - (COL_W - BOX_W)
    height = PAD * 2 + max(len(k) for k in columns.values()) * ROW_H
    parts = [f'<svg width="{width}" height="{height}" '
             f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11" role="img" '
             f'aria-label="lineage of the run">']
    for a, b in dict.fromkeys(edges):
        (x0, y0), (x1, y1) = pos[a], pos[b]
        x0, y0, y1 = x0 + BOX_W, y0 + BOX_H / 2, y1 + BOX_H / 2
        mid = (x0 + x1) / 2
        parts.append(f'<path d="M{x0},{y0} C{mid},{y0} {mid},{y1} {x1},{y1}" fill="none" stroke="#a0522d" '
                     f'stroke-opacity="0.45"/>')
    for key, node in nodes.items():
        x, y = pos[key]
        label = node["label"] if len(node["label"]) <= 30 else node["label"][:28] + "…"
        title = f"{node['label']} ({node['algorithm']}, {node['status']})"
        parts.append(f'<g><title>{html.escape(title)}</title><rect x="{x}" y="{y}" width="{BOX_W}" '
                     f'height="{BOX_H}" rx="4" fill="{COLOURS[node["status"]]}" stroke="#888"/>'
                     f'<text x="{x + 6}" y="{y + 12}">{html.escape(label)}</text>'
                     f'<text x="{x + 6}" y="{y + 25}" fill="#777">{html.escape(node["algorithm"])}'
                     f'{"" if node["status"] in ("ok", "input") else " — " + node["status"]}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
