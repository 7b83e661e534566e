"""Supervised learning on spectra: training sets, estimators, cross-validation, model artefacts.

Public API: ``make_estimator`` (registry of methods), ``spatial_cv`` (ROI / spatial-block folds),
``predict_raster`` (block-wise maps, probabilities, uncertainty), ``save_model`` / ``load_model``
(skops + JSON manifest, no pickle), ``CNN1D`` / ``CNN2D`` (torch, optional), ``TrainingSet`` /
``build_training_set``. Also: ``fit_model`` -> ``TrainedModel``, ``method_names``, ``CVResult``;
workflows in :mod:`.train` (train, evaluate, HTML report) and :mod:`.crm` (high/low classes, ROC).

Names load on first use (PEP 562), so that importing a submodule (e.g. the QGIS toolbox reading the
method names) does not import scikit-learn (~1 s).
"""
import importlib

_WHERE = {"make_estimator": "registry", "method_names": "registry", "spatial_cv": "validation",
          "CVResult": "validation", "predict_raster": "predict", "save_model": "artefacts",
          "load_model": "artefacts", "fit_model": "artefacts", "TrainedModel": "artefacts", "CNN1D": "cnn",
          "CNN2D": "cnn", "TrainingSet": "dataset", "build_training_set": "dataset"}


def __getattr__(name):
    if name in _WHERE:
        return getattr(importlib.import_module(f"{__name__}.{_WHERE[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["make_estimator", "spatial_cv", "predict_raster", "save_model", "load_model", "CNN1D", "CNN2D",
           "TrainingSet", "build_training_set", "TrainedModel", "fit_model", "method_names", "CVResult"]
