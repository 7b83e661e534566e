"""Processing and message enums that resolve on QGIS 3.22 and on QGIS ≥ 3.36 / 4.

QGIS 3.36 moved the Processing enums to ``Qgis`` (``Qgis.ProcessingNumberParameterType.Integer``,
``Qgis.ProcessingSourceType.VectorPoint``, …); QGIS 4 (PyQt6) keeps only those scoped forms, while 3.22
has only the old ones (``QgsProcessingParameterNumber.Integer``, ``QgsProcessing.TypeVectorPoint``). The
code uses the names below, never either form directly. Qt enums are written scoped
(``Qt.ItemFlag.ItemIsEditable``): PyQt5 5.15 and PyQt6 both accept that form.
"""
from qgis.core import (
    Qgis,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingUtils,
)


def pick(scoped_enum, member, legacy_owner, legacy_member=None, qgis=Qgis):
    """``Qgis.<scoped_enum>.<member>`` where it exists (QGIS ≥ 3.36), else ``legacy_owner.<legacy_member>``
    (``legacy_member`` defaults to ``member``; ``qgis``: the ``Qgis`` class to look in)."""
    scoped = getattr(qgis, scoped_enum, None)
    if scoped is not None:
        return getattr(scoped, member)
    return getattr(legacy_owner, legacy_member or member)


INTEGER = pick("ProcessingNumberParameterType", "Integer", QgsProcessingParameterNumber)
DOUBLE = pick("ProcessingNumberParameterType", "Double", QgsProcessingParameterNumber)

RASTER = pick("ProcessingSourceType", "Raster", QgsProcessing, "TypeRaster")
VECTOR_POINT = pick("ProcessingSourceType", "VectorPoint", QgsProcessing, "TypeVectorPoint")
VECTOR_POLYGON = pick("ProcessingSourceType", "VectorPolygon", QgsProcessing, "TypeVectorPolygon")
VECTOR_ANY = pick("ProcessingSourceType", "VectorAnyGeometry", QgsProcessing, "TypeVectorAnyGeometry")
SOURCE_FILE = pick("ProcessingSourceType", "File", QgsProcessing, "TypeFile")

FIELD_NUMERIC = pick("ProcessingFieldParameterDataType", "Numeric", QgsProcessingParameterField)
FIELD_ANY = pick("ProcessingFieldParameterDataType", "Any", QgsProcessingParameterField)

FILE = pick("ProcessingFileParameterBehavior", "File", QgsProcessingParameterFile)
FOLDER = pick("ProcessingFileParameterBehavior", "Folder", QgsProcessingParameterFile)

OPTIONAL = pick("ProcessingParameterFlag", "Optional", QgsProcessingParameterDefinition, "FlagOptional")

LAYER_RASTER = QgsProcessingUtils.LayerHint.Raster
LAYER_VECTOR = QgsProcessingUtils.LayerHint.Vector

INFO = Qgis.MessageLevel.Info
WARNING = Qgis.MessageLevel.Warning
CRITICAL = Qgis.MessageLevel.Critical
