"""QGIS layer styles (``<raster>.qml`` side-cars) so that outputs load styled in QGIS.

QGIS loads ``<name>.qml`` next to ``<name>.tif`` as the layer's default style. Class maps get a paletted renderer
with the class names as labels (GDAL drops category names on paletted GeoTIFFs, so the names also go
into the band metadata item ``class_names``); continuous outputs (abundances 0–100 %, grades) get a
pseudocolour ramp over a fixed range. Plain XML: no QGIS import.
"""
import os
from xml.sax.saxutils import quoteattr

#: viridis at 5 stops (perceptually uniform, colour-blind safe)
VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"]
HEADER = ("<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>\n"
          "<qgis version=\"3.22.0\" styleCategories=\"Symbology\">\n<pipe>\n")
FOOTER = "</pipe>\n</qgis>\n"


def hex_colour(rgb):
    return "#{:02x}{:02x}{:02x}".format(*[int(c) for c in rgb[:3]])


def class_style(colormap, names):
    """QML text of a paletted renderer: ``colormap`` {value: (r, g, b)}, ``names`` [label of value 0, 1, …]."""
    values = sorted(set(colormap or {}) | set(range(len(names or []))))
    entries = []
    for v in values:
        colour = hex_colour((colormap or {}).get(v, (128, 128, 128)))
        label = names[v] if names and v < len(names) else str(v)
        entries.append(f'<paletteEntry value="{v}" color="{colour}" alpha="255" label={quoteattr(label)}/>')
    return (HEADER + '<rasterrenderer type="paletted" band="1" opacity="1" alphaBand="-1">\n<colorPalette>\n'
            + "\n".join(entries) + "\n</colorPalette>\n</rasterrenderer>\n" + FOOTER)


def range_style(vmin, vmax, band=1, colours=VIRIDIS):
    """QML text of a pseudocolour ramp from ``vmin`` to ``vmax`` on ``band``."""
    n = len(colours) - 1
    items = "\n".join(f'<item value="{vmin + (vmax - vmin) * i / n:g}" color="{c}" alpha="255" '
                      f'label="{vmin + (vmax - vmin) * i / n:g}"/>' for i, c in enumerate(colours))
    return (HEADER + f'<rasterrenderer type="singlebandpseudocolor" band="{band}" opacity="1" alphaBand="-1" '
            f'classificationMin="{vmin:g}" classificationMax="{vmax:g}">\n<rastershader>\n'
            f'<colorrampshader colorRampType="INTERPOLATED" classificationMode="1" clip="0" '
            f'minimumValue="{vmin:g}" maximumValue="{vmax:g}">\n{items}\n</colorrampshader>\n</rastershader>\n'
            "</rasterrenderer>\n" + FOOTER)


def style_path(raster_path):
    """``/a/b.tif`` → ``/a/b.qml`` (where QGIS looks for a layer's default style)."""
    return os.path.splitext(str(raster_path))[0] + ".qml"


def write_style(raster_path, colormap=None, names=None, value_range=None):
    """Write the QGIS default style of ``raster_path`` when there is something to style; its path or None."""
    if colormap or names:
        text = class_style(colormap, names)
    elif value_range is not None:
        text = range_style(*value_range)
    else:
        return None
    path = style_path(raster_path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path
