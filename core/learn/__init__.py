"""Supervised learning on spectra: training sets, estimators, cross-validation, model artefacts."""
from .dataset import TrainingSet, build_training_set

__all__ = ["TrainingSet", "build_training_set"]
