"""Data sets used by the recipes and tests."""

from keras_lrtools.datasets import signs

__all__ = ["signs"]
