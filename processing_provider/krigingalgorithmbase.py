"""KrigingAlgorithm: the variogram-model and output-grid parameters shared by the kriging algorithms."""
from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
    QgsProcessingParameterVectorLayer,
)

from ..core.geostat import read_model_json
from ..core.geostat.models import FITTED_MODELS
from ..core.raster.style import quantity
from .base import RemineAlgorithm
from .compat import FIELD_NUMERIC, INTEGER, VECTOR_POINT


class KrigingAlgorithm(RemineAlgorithm):
    """Base of ordinarykriging, externaldriftkriging and krigingcrossvalidation (not registered: NAME is empty)."""

    INPUT, FIELD = "INPUT", "FIELD"
    TEMPLATE, EXTENT, PIXEL_SIZE = "TEMPLATE", "EXTENT", "PIXEL_SIZE"
    MODEL_FILE, MODEL, N_NEIGHBORS = "MODEL_FILE", "MODEL", "N_NEIGHBORS"
    SECONDARY_OUTPUTS = ("OUTPUT_VARIANCE", "OUTPUT_STD")   # loaded unchecked: the prediction shows first

    def add_sample_parameters(self):
        """The sample points and their numeric field to krige."""
        self.addParameter(QgsProcessingParameterVectorLayer(self.INPUT, "Sample points", [VECTOR_POINT]))
        self.addParameter(QgsProcessingParameterField(self.FIELD, "Field", parentLayerParameterName=self.INPUT,
                                                      type=FIELD_NUMERIC))

    def add_model_parameters(self):
        """A variogram-model file, the model to fit without one, and the neighbours per estimate."""
        self.addParameter(QgsProcessingParameterFile(self.MODEL_FILE, "Variogram model (JSON from remine:variogram)",
                                                     extension="json", optional=True))
        self.addParameter(QgsProcessingParameterEnum(self.MODEL, "Model to fit when no file is given",
                                                     options=list(FITTED_MODELS), defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber(self.N_NEIGHBORS, "Neighbours per estimate (0 = all samples)",
                                                       INTEGER, defaultValue=32,
                                                       minValue=0))

    def read_model(self, parameters, context):
        """A VariogramModel from MODEL_FILE, else the name of the model to fit (a str)."""
        path = self.parameterAsFile(parameters, self.MODEL_FILE, context)
        if path:
            self.warn_ignored(parameters, [self.MODEL], "a variogram model file is given")
        return read_model_json(path) if path else FITTED_MODELS[self.parameterAsEnum(parameters, self.MODEL, context)]

    def grid(self, parameters, context, points_crs, progress):
        """``dict`` of krige_raster grid arguments: a template path, or extent + pixel size + CRS; without
        either, the extent of the sample points grown by half a pixel (said in the log)."""
        template = self.parameterAsRasterLayer(parameters, self.TEMPLATE, context)
        if template is not None:
            self.warn_ignored(parameters, [self.EXTENT, self.PIXEL_SIZE], "the template raster gives the grid")
            return {"grid_like": template.source()}
        pixel = self.parameterAsDouble(parameters, self.PIXEL_SIZE, context)
        if parameters.get(self.EXTENT):
            crs = self.parameterAsExtentCrs(parameters, self.EXTENT, context)
            rect = self.parameterAsExtent(parameters, self.EXTENT, context, crs)
        else:
            crs, rect = points_crs, self.parameterAsVectorLayer(parameters, self.INPUT, context).extent()
            rect.grow(pixel / 2)
            progress.info(f"no template raster or extent: the grid covers the sample points at {pixel:g} m")
        authid = crs.authid() if crs.isValid() else points_crs.authid()
        return {"extent": (rect.xMinimum(), rect.yMinimum(), rect.xMaximum(), rect.yMaximum()),
                "pixel_size": pixel, "crs": authid or None}

    def name_layers(self, parameters, context, estimate="kriged"):
        """Layer names after the field: "Zn kriged (ppm)" and "Zn kriging variance (ppm²)"."""
        name, unit = quantity(self.parameterAsString(parameters, self.FIELD, context))
        self.layer_names["OUTPUT"] = f"{name} {estimate}" + (f" ({unit})" if unit else "")
        self.layer_names["OUTPUT_VARIANCE"] = f"{name} kriging variance" + (f" ({unit}²)" if unit else "")

    def n_neighbors(self, parameters, context):
        """Neighbours per estimate, None for all samples (0)."""
        return self.parameterAsInt(parameters, self.N_NEIGHBORS, context) or None
