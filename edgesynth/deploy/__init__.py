"""Deployment: int8 quantization (PTQ/QAT) and the host runtimes (LiteRT, TFLM).

Import the submodules: :mod:`edgesynth.deploy.quantize` (needs TensorFlow) and
:mod:`edgesynth.deploy.runtime` (LiteRT/TFLM interpreters, no TensorFlow).
"""
