"""Docstring examples must run (librosa's convention): doctest the modules that carry them."""
import doctest
import importlib

import pytest

MODULES = [
    "edgesynth.artifact",
    "edgesynth.data.features",
    "edgesynth.data.windows",
    "edgesynth.data.simulate",
    "edgesynth.synth.inject",
    "edgesynth.synth.augment",
    "edgesynth.detect.models",
    "edgesynth.detect.losses",
    "edgesynth.detect.thresholds",
    "edgesynth.detect.metrics",
    "edgesynth.detect.detector",
    "edgesynth.synth.generate",
    "edgesynth.synth.vae",
    "edgesynth.synth.quality",
    "edgesynth.synth.select",
    "edgesynth.deploy.runtime",
    "edgesynth.stream.framing",
    "firmware_export.carray",
]


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name):
    mod = importlib.import_module(name)
    res = doctest.testmod(mod, optionflags=doctest.NORMALIZE_WHITESPACE | doctest.ELLIPSIS)
    assert res.attempted > 0, f"{name} has no docstring examples"
    assert res.failed == 0, f"{res.failed} doctest failure(s) in {name}"
