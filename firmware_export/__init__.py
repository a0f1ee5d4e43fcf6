"""Firmware emitters: C arrays, TFLM sources and Arduino sketches from int8 ``.tflite`` models.

No TensorFlow import anywhere in this package (numpy and the standard library only); the model
is read by the pure-Python flatbuffer reader :class:`firmware_export.tflite_model.TFLiteModel`.
"""
from firmware_export.tflite_model import TFLiteModel
from firmware_export.tflm import FirmwareConfig, export_firmware, firmware_files

__all__ = ["TFLiteModel", "FirmwareConfig", "export_firmware", "firmware_files"]
