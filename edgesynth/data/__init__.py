"""Data in: loaders, the built-in simulator, windowing and features.

``load(path) -> Dataset`` reads local files only (no downloads); the simulator
(:mod:`edgesynth.data.simulate`) provides labelled data for the demo and tests.
"""
from edgesynth.data.dataset import Dataset
from edgesynth.data.loaders import load, require_two_classes
from edgesynth.data.simulate import EcgStream, VibrationStream, simulate_ecg, simulate_vibration

__all__ = [
    "Dataset",
    "load",
    "require_two_classes",
    "simulate_vibration",
    "simulate_ecg",
    "VibrationStream",
    "EcgStream",
]
