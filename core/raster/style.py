"""QGIS layer styles (``<raster>.qml`` side-cars) so that outputs load styled in QGIS.

QGIS loads ``<name>.qml`` next to ``<name>.tif`` as the layer's default style. Class maps get a paletted renderer
with the class names as labels (GDAL drops category names on paletted GeoTIFFs, so the names also go
into the band metadata item ``class_names``); continuous outputs (abundances 0–100 %, grades) get a
pseudocolour ramp over a fixed range. Plain XML: no QGIS import.

One mineral colour table (:func:`mineral_colour`) serves every output: a mineral has the same colour in
the truth and predicted class maps, and its abundance or probability ramps run from white to that colour.
"""
import os
import zlib
from xml.sax.saxutils import quoteattr

import numpy as np

from .stats import band_statistics

#: viridis at 5 stops (perceptually uniform, colour-blind safe): grades, kriging predictions
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
#: magma at 5 stops: variances, uncertainties (dark = certain, bright = uncertain)
MAGMA = ["#000004", "#51127c", "#b73779", "#fc8961", "#fcfdbf"]
#: mineral colours (Tableau 10 hues, one per mineral of the demo scene, then common tailings minerals)
MINERAL_COLOURS = {
    "kaolinite": (78, 121, 167), "muscovite": (176, 122, 161), "chlorite": (89, 161, 79),
    "montmorillonite": (156, 117, 95), "alunite": (255, 157, 167), "jarosite": (237, 201, 72),
    "goethite": (242, 142, 43), "gypsum": (118, 183, 178), "calcite": (225, 87, 89),
    "hematite": (140, 20, 30), "dolomite": (212, 166, 200), "illite": (140, 90, 200), "quartz": (180, 180, 180),
    "azurite": (31, 63, 191), "malachite": (11, 143, 79), "pyrite": (190, 170, 40), "siderite": (120, 80, 40),
}
#: name of code 0 in class maps
NO_DATA_CLASS = "no data"
#: colours of minerals not in the table: tab20, chosen by a checksum of the name (stable across runs)
FALLBACK = [(31, 119, 180), (174, 199, 232), (255, 127, 14), (255, 187, 120), (44, 160, 44), (152, 223, 138),
            (214, 39, 40), (255, 152, 150), (148, 103, 189), (197, 176, 213), (140, 86, 75), (196, 156, 148),
            (227, 119, 194), (247, 182, 210), (127, 127, 127), (199, 199, 199), (188, 189, 34), (219, 219, 141),
            (23, 190, 207), (158, 218, 229)]


def mineral_key(name):
    """``"Kaolinite CM9"`` / ``"kaolinite_2"`` -> ``"kaolinite"`` (first word, lower case)."""
    return str(name).strip().lower().replace("_", " ").split(" ")[0] if str(name).strip() else ""


def mineral_colour(name):
    """(r, g, b) of a mineral (or class) name: the table's colour, else a stable tab20 colour."""
    key = mineral_key(name)
    return MINERAL_COLOURS.get(key) or FALLBACK[zlib.crc32(key.encode()) % len(FALLBACK)]


def class_table(classes):
    """``(colormap, category_names)`` of a class map coded as remine's classifiers code their classes: 0 = no
    data (transparent, no legend entry), 1…n = ``classes`` in their order with their mineral colours. The demo
    truth and every predicted class map use it, so one mineral has one code, name and colour in all of them."""
    colormap = {0: (0, 0, 0, 0)}
    colormap.update({i + 1: mineral_colour(n) + (255,) for i, n in enumerate(classes)})
    return colormap, [NO_DATA_CLASS] + [str(c) for c in classes]


def mineral_ramp(name):
    """Two-stop ramp (hex) from white to the mineral's colour, for its abundance or probability."""
    return ["#ffffff", hex_colour(mineral_colour(name))]
HEADER = ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
          "<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n<pipe>\n")
FOOTER = "</pipe>\n</qgis>\n"


def hex_colour(rgb):
    return "#{:02x}{:02x}{:02x}".format(*[int(c) for c in rgb[:3]])


def class_style(colormap, names):
    """QML text of a paletted renderer: ``colormap`` {value: (r, g, b[, a])}, ``names`` [label of value 0, 1, …].

    Values whose colour is fully transparent (a nodata code) get no legend entry."""
    values = sorted(set(colormap or {}) | set(range(len(names or []))))
    entries = []
    for v in values:
        if len((colormap or {}).get(v, ())) == 4 and colormap[v][3] == 0:
            continue
        colour = hex_colour((colormap or {}).get(v, (128, 128, 128)))
        label = names[v] if names and v < len(names) else str(v)
        entries.append(f'<paletteEntry value="{v}" color="{colour}" alpha="255" label={quoteattr(label)}/>')
    return (HEADER + '<rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1">\n<colorPalette>\n'
            + "\n".join(entries) + "\n</colorPalette>\n</rasterrenderer>\n" + FOOTER)


def range_style(vmin, vmax, band=1, colours=VIRIDIS, unit="", prefix=""):
    """QML text of a pseudocolour ramp from ``vmin`` to ``vmax`` on ``band``; legend labels with 4 significant
    digits between ``prefix`` and ``unit`` (e.g. ``" %"``), in the class list and in the continuous ramp legend
    of QGIS's layer panel alike."""
    n = len(colours) - 1
    items = "\n".join(f'<item value="{vmin + (vmax - vmin) * i / n:g}" color="{c}" alpha="255" '
                      f'label={quoteattr(f"{prefix}{vmin + (vmax - vmin) * i / n:.4g}{unit}")}/>'
                      for i, c in enumerate(colours))
    legend = (f'<rampLegendSettings useContinuousLegend="1" prefix={quoteattr(prefix)} suffix={quoteattr(unit)} '
              'minimumLabel="" maximumLabel="" orientation="2" direction="0"/>')
    return (HEADER + f'<rasterrenderer type="singlebandpseudocolor" band="{band}" opacity="1" alphaBand="-1" '
            f'classificationMin="{vmin:g}" classificationMax="{vmax:g}">\n<rastershader>\n'
            f'<colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" '
            f'minimumValue="{vmin:g}" maximumValue="{vmax:g}">\n{items}\n{legend}\n</colorrampshader>\n'
            "</rastershader>\n</rasterrenderer>\n" + FOOTER)


def style_path(raster_path):
    """``/a/b.tif`` → ``/a/b.qml`` (where QGIS looks for a layer's default style)."""
    return os.path.splitext(str(raster_path))[0] + ".qml"


def write_style(raster_path, colormap=None, names=None, value_range=None, band=1, colours=VIRIDIS, unit="",
                prefix=""):
    """Write the QGIS default style of ``raster_path`` when there is something to style; its path or None.

    A class map when ``colormap`` or ``names`` are given, else a ramp of ``colours`` over ``value_range``
    (vmin, vmax) on ``band``, labelled ``prefix`` value ``unit``."""
    if colormap or names:
        text = class_style(colormap, names)
    elif value_range is not None:
        text = range_style(*value_range, band=band, colours=colours, unit=unit, prefix=prefix)
    else:
        return None
    path = style_path(raster_path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


#: how shares show: ``full`` value and legend ``(prefix, unit)`` of abundances (%), probabilities, fractions
SHARES = {"percent": (100.0, ("", " %")), "probability": (1.0, ("p = ", "")), "fraction": (1.0, ("", " (fraction)"))}


def write_share_style(raster_path, minerals, kind="percent", means=None):
    """Style a stack of per-mineral shares: its first ``len(minerals)`` bands hold the share of each of
    ``minerals`` (abundance %, class probability, fraction). The band with the largest mean share is shown
    (the mineral a user looks for first, rather than the alphabetically first one, which may be absent), on a
    ramp from white to the mineral's colour over 0 … full share, legend labelled as ``SHARES[kind]`` says.

    ``means``: mean share per mineral; default the band statistics stored with the raster
    (``BlockOutput(statistics=True)``). Returns ``(band, mineral)`` shown (1-based band; band 1 when no
    band has a valid cell)."""
    if means is None:
        stats = list(band_statistics(raster_path).values())
        means = [s["mean"] for s in stats[:len(minerals)]]
    means = np.asarray(means, dtype="float64")
    band = int(np.nanargmax(means)) + 1 if np.isfinite(means).any() else 1
    full, (prefix, unit) = SHARES[kind]
    write_style(raster_path, value_range=(0, full), band=band, colours=mineral_ramp(minerals[band - 1]),
                unit=unit, prefix=prefix)
    return band, str(minerals[band - 1])


def share_layer_name(quantity, mineral, n, noun):
    """``"Abundance – kaolinite (largest mean of 9 minerals)"``; ``"Abundance – kaolinite"`` when ``n`` is 1."""
    return f"{quantity} – {mineral}" + (f" (largest mean of {n} {noun})" if n > 1 else "")


def fullest_band(raster_path):
    """``(band, description)`` of the band of ``raster_path`` with the most valid cells (1-based; the first
    on ties): the slice of a stack of elevation slices worth showing. Reads the raster whole."""
    import rasterio

    with rasterio.open(raster_path) as ds:
        data = ds.read(masked=True)
        counts = [int(np.isfinite(b.astype("float64").filled(np.nan)).sum()) for b in data]
        band = int(np.argmax(counts)) + 1
        return band, ds.descriptions[band - 1] or f"band {band}"


def quantity(field):
    """A field name as a quantity and its unit: ``"Zn_ppm"`` -> ``("Zn", "ppm")``, ``"depth"`` -> ``("depth", "")``."""
    name, _, unit = str(field or "").rpartition("_")
    return (name, unit) if name and unit.isalpha() and len(unit) <= 4 else (str(field or ""), "")


def unit_suffix(field, power=""):
    """Legend suffix of the unit of ``field`` (:func:`quantity`) to ``power`` ("²" for variances): ``" ppm²"``,
    or ``""`` without a unit."""
    unit = quantity(field)[1]
    return f" {unit}{power}" if unit else ""


def write_data_style(raster_path, colours=VIRIDIS, band=1, from_zero=False, unit=""):
    """Write a ramp of ``colours`` over the minimum–maximum of ``band``'s finite values (from 0 with
    ``from_zero``, e.g. variances), legend labels ending in ``unit`` (e.g. ``" ppm"``); for outputs whose range
    is known only once written. Reads ~1M-pixel row strips (bounded memory). Path or None when the band has no
    finite value."""
    import rasterio
    from rasterio.windows import Window

    lo, hi = np.inf, -np.inf
    with rasterio.open(raster_path) as ds:
        step = max(1, 2 ** 20 // ds.width)
        for row in range(0, ds.height, step):
            block = ds.read(band, window=Window(0, row, ds.width, min(step, ds.height - row)), masked=True)
            values = block.astype("float64").filled(np.nan)
            finite = values[np.isfinite(values)]
            if finite.size:
                lo, hi = min(lo, finite.min()), max(hi, finite.max())
    if not np.isfinite(lo):
        return None
    vmin = 0.0 if from_zero else float(lo)
    vmax = float(hi) if hi > vmin else vmin + 1.0
    return write_style(raster_path, value_range=(vmin, vmax), band=band, colours=colours, unit=unit)
