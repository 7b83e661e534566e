from .variogram import experimental_variogram
