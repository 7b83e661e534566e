"""Self-contained HTML reports (figures inlined as PNG) for people who would rather look than read.

>>> HtmlReport("Classification").add_metrics({"overall accuracy": 0.93}).add_figure(fig, "Confusion").write(p)
"""
import base64
import datetime
import html
import io

from ..raster import atomic_path

STYLE = """body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;color:#222;line-height:1.45}
h1{border-bottom:2px solid #a0522d}h2{color:#a0522d;margin-top:2rem}table{border-collapse:collapse;margin:1rem 0}
td,th{border:1px solid #ccc;padding:.25rem .6rem;text-align:right}th{background:#f4efe9}
figure{margin:1rem 0}figcaption{font-size:.9rem;color:#555}img{max-width:100%}.meta{color:#777;font-size:.85rem}
.warn{color:#a01c10}.lineage{overflow-x:auto}details pre{font-size:.75rem;background:#faf8f5;overflow-x:auto}"""


class HtmlReport:
    """Collects headings, text, tables, metrics and matplotlib figures; ``write(path)`` saves one HTML file."""

    def __init__(self, title):
        self.title = title
        self.parts = []

    def add_heading(self, text):
        self.parts.append(f"<h2>{html.escape(str(text))}</h2>")
        return self

    def add_text(self, text):
        self.parts.append(f"<p>{html.escape(str(text))}</p>")
        return self

    def add_table(self, table, caption=None, digits=4):
        """A pandas DataFrame, or a dict of columns / a dict of scalars."""
        import pandas as pd

        if isinstance(table, dict):
            scalar = all(not hasattr(v, "__len__") or isinstance(v, str) for v in table.values())
            table = pd.DataFrame({"value": table}) if scalar else pd.DataFrame(table)
        if caption:
            self.parts.append(f"<h3>{html.escape(caption)}</h3>")
        self.parts.append(table.to_html(float_format=lambda v: f"{v:.{digits}g}", border=0))
        return self

    def add_metrics(self, metrics, caption="Metrics"):
        return self.add_table({k: v for k, v in metrics.items()}, caption)

    def add_figure(self, fig, caption=None, dpi=110):
        """Inline a matplotlib figure as PNG (the figure is closed afterwards)."""
        import matplotlib.pyplot as plt

        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi, bbox_inches="tight")
        plt.close(fig)
        data = base64.b64encode(buf.getvalue()).decode("ascii")
        cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
        self.parts.append(f'<figure><img alt="{html.escape(caption or "figure")}" '
                          f'src="data:image/png;base64,{data}">{cap}</figure>')
        return self

    def render(self):
        stamp = datetime.datetime.now().strftime("%Y-%m-%d %H:%M")
        return (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(self.title)}</title>"
                f"<style>{STYLE}</style></head><body><h1>{html.escape(self.title)}</h1>"
                f"<p class='meta'>remine report, {stamp}</p>{''.join(self.parts)}</body></html>")

    def write(self, path):
        """Write atomically; returns the path."""
        text = self.render()
        with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        return path
