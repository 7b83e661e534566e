"""Supervised learning on spectra: training sets, estimators, cross-validation, model artefacts.

Public API: ``make_estimator`` (registry of methods), ``spatial_cv`` (ROI / spatial-block folds),
``predict_raster`` (block-wise maps, probabilities, uncertainty), ``save_model`` / ``load_model``
(skops + JSON manifest, no pickle), ``CNN1D`` / ``CNN2D`` (torch, optional), ``TrainingSet`` /
``build_training_set``. Also: ``fit_model`` -> ``TrainedModel``, ``method_names``, ``CVResult``;
workflows in :mod:`.train` (train, evaluate, HTML report) and :mod:`.crm` (high/low classes, ROC).
"""
from .artefacts import TrainedModel, fit_model, load_model, save_model
from .cnn import CNN1D, CNN2D
from .dataset import TrainingSet, build_training_set
from .predict import predict_raster
from .registry import make_estimator, method_names
from .validation import CVResult, spatial_cv

__all__ = ["make_estimator", "spatial_cv", "predict_raster", "save_model", "load_model", "CNN1D", "CNN2D",
           "TrainingSet", "build_training_set", "TrainedModel", "fit_model", "method_names", "CVResult"]
