"""Outputs load styled and named wherever Processing loads them (toolbox, modeller, batch runs).

Processing opens result rasters without their default style (``<name>.qml``), so every remine output
gets a layer post-processor (:class:`StyledLayer`) that, once the layer is in the project, loads the
style ``remine.core`` wrote next to the file, styles vector layers (ROIs by mineral colour, samples by a
grade), names the layer after what it holds ("Abundance – kaolinite") and, for layer groups (the demo
scene), puts it into its group in a fixed order.
"""
import os
from dataclasses import dataclass
from typing import Optional

from qgis.core import (
    QgsCategorizedSymbolRenderer,
    QgsClassificationQuantile,
    QgsGraduatedSymbolRenderer,
    QgsLayerTreeLayer,
    QgsLayerTreeRegistryBridge,
    QgsProcessingContext,
    QgsProcessingLayerPostProcessorInterface,
    QgsRendererCategory,
    QgsStyle,
    QgsSymbol,
)
from qgis.PyQt.QtGui import QColor

from ..core.raster.style import mineral_colour, style_path

_ALIVE = []  # Processing holds post-processors by pointer only: keep the Python objects alive


@dataclass
class LayerStyle:
    """How one output layer is shown: ``name`` (``{band}`` in it: the description of the band the raster's
    style shows), optional ``group`` (with ``order``: 0 = top), visibility, and for vector layers a
    ``categories`` field (coloured by mineral) or a ``graduated`` numeric field."""

    name: Optional[str] = None
    group: Optional[str] = None
    order: int = 0
    visible: bool = True
    categories: Optional[str] = None
    graduated: Optional[str] = None


class StyledLayer(QgsProcessingLayerPostProcessorInterface):
    def __init__(self, path, style):
        super().__init__()
        self.path, self.style = path, style

    def postProcessLayer(self, layer, context, feedback):  # noqa: N802 (QGIS API name)
        qml = style_path(self.path)
        if os.path.isfile(qml):
            layer.loadNamedStyle(qml)
        if self.style.categories and self.style.categories in layer.fields().names():
            categorise(layer, self.style.categories)
        elif self.style.graduated and self.style.graduated in layer.fields().names():
            graduate(layer, self.style.graduated)
        if self.style.name:
            bands = layer.renderer().usesBands() if "{band}" in self.style.name and layer.renderer() else []
            layer.setName(self.style.name.replace("{band}", band_name(self.path, bands[0]) if bands else "?"))
        project = context.project()
        node = project.layerTreeRoot().findLayer(layer.id()) if project is not None else None
        if node is not None:
            if self.style.group:
                node = into_group(project.layerTreeRoot(), node, self.style.group, self.style.order)
                # later results go to the top of the tree, not into the group that now holds the current layer
                project.layerTreeRegistryBridge().setLayerInsertionPoint(
                    QgsLayerTreeRegistryBridge.InsertionPoint(project.layerTreeRoot(), 0))
            node.setItemVisibilityChecked(self.style.visible)
        layer.triggerRepaint()


def categorise(layer, field):
    """Categorised renderer on ``field`` with the mineral colour of each value, half-transparent fill."""
    categories = []
    for value in sorted({str(v) for v in layer.uniqueValues(layer.fields().indexOf(field))}):
        symbol = QgsSymbol.defaultSymbol(layer.geometryType())
        symbol.setColor(QColor(*mineral_colour(value)))
        symbol.setOpacity(0.7)
        categories.append(QgsRendererCategory(value, symbol, value))
    layer.setRenderer(QgsCategorizedSymbolRenderer(field, categories))


def graduate(layer, field, classes=5):
    """Graduated renderer on ``field``: quantile classes on the viridis ramp."""
    renderer = QgsGraduatedSymbolRenderer(field)
    renderer.setSourceSymbol(QgsSymbol.defaultSymbol(layer.geometryType()))
    renderer.setSourceColorRamp(QgsStyle.defaultStyle().colorRamp("Viridis"))
    renderer.setClassificationMethod(QgsClassificationQuantile())
    renderer.updateClasses(layer, classes)
    layer.setRenderer(renderer)


def into_group(root, node, name, order):
    """Move layer ``node`` into group ``name`` (created at the top), above the members of larger ``order``."""
    group = root.findGroup(name) or root.insertGroup(0, name)
    children = group.children()
    position = sum(1 for c in children if int(c.customProperty("remine/order", 0)) <= order)
    moved = QgsLayerTreeLayer(node.layer())
    moved.setCustomProperty("remine/order", order)
    group.insertChildNode(position, moved)
    node.parent().removeChildNode(node)
    return moved


def band_name(path, band=1):
    """Description of ``band`` of raster ``path`` ("" when there is none)."""
    from osgeo import gdal

    ds = gdal.Open(path)
    return ds.GetRasterBand(band).GetDescription() if ds is not None and ds.RasterCount >= band else ""


def style_on_load(context, path, style):
    """Attach ``style`` to ``path`` when Processing will load it on completion; True when attached."""
    if not isinstance(path, str) or not context.willLoadLayerOnCompletion(path):
        return False
    processor = StyledLayer(path, style)
    _ALIVE.append(processor)
    del _ALIVE[:-500]
    context.layerToLoadOnCompletionDetails(path).setPostProcessor(processor)
    return True


def load_on_completion(context, path, style, layer_hint):
    """Ask Processing to load ``path`` (an output that is not a destination parameter) styled as ``style``."""
    details = QgsProcessingContext.LayerDetails(style.name or os.path.basename(path), context.project(),
                                                style.name or "", layer_hint)
    context.addLayerToLoadOnCompletion(path, details)
    return style_on_load(context, path, style)
