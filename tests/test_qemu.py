"""Standalone C on a Cortex-M4: arm-none-eabi-gcc build, sizes, and QEMU (mps2-an386) run bit-exact with the host."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from conftest import require_tool
from firmware_export import arm
from firmware_export.standalone import _layers_from_tflite, activation_plan, emit_standalone

# the model builders and host runner of test_standalone_c (loaded by path: works in any import mode)
_spec = importlib.util.spec_from_file_location("_standalone_c_helpers",
                                               Path(__file__).with_name("test_standalone_c.py"))
H = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(H)


@pytest.mark.slow
@pytest.mark.cc
@pytest.mark.qemu
def test_qemu_bit_exact_with_host_and_tflm(tmp_path):
    require_tool("arm-none-eabi-gcc")
    require_tool("qemu-system-arm")
    model = H.build_model("mixed", seed=5, epochs=1)  # conv1d + dense + transposed conv1d
    assert {L.kind for L in _layers_from_tflite(model["tflite"]).layers} >= {
        "conv1d", "fully_connected", "transpose_conv1d"}
    b, d = model["tflite"], model["d"]
    net = _layers_from_tflite(b)
    rng = np.random.default_rng(440)
    mean = rng.normal(0, 0.1, size=d).astype(np.float32)
    scale = rng.uniform(0.5, 2.0, size=d).astype(np.float32)
    emit_standalone(b, {"mean": mean, "scale": scale, "threshold": 0.5}, tmp_path, name="det")

    Xq = np.concatenate([
        rng.integers(-128, 128, size=(150, d)).astype(np.int8),
        H.quantize_tflm(H.realistic_windows(50, d, seed=9), net.input.scale, net.input.zero_point),
    ])
    W = np.concatenate([H.realistic_windows(12, d, seed=13), rng.normal(0, 3, size=(4, d)).astype(np.float32)])

    elf = arm.build_harness(tmp_path, "det", Xq, W, out_dir=tmp_path / "arm", repeat=20)
    res = arm.parse_harness_output(arm.run_qemu(elf, timeout=60))

    host = H.compile_host(tmp_path, "det")
    host_out = np.array([[int(v) for v in ln.split()] for ln in H.run_host(host, Xq, "i")], dtype=np.int8)
    host_lines = H.run_host(host, W, "s")
    host_scores = np.array([float(ln.split()[1]) for ln in host_lines], dtype=np.float32)

    np.testing.assert_array_equal(res["outputs"], host_out)
    np.testing.assert_array_equal(res["outputs"], H.tflm_outputs(b, Xq))
    assert np.all(res["rc"] == 0)
    # IEEE single precision on both sides, no contraction in ISO C mode: same float bits
    np.testing.assert_array_equal(res["scores"], host_scores)
    # the harness's calibration loop (2 x 100000 instructions) confirms 40 instructions per SysTick tick
    assert res["insns_per_tick"] == arm.INSNS_PER_TICK
    macs = sum(L.weights.size * (L.geometry["out_w"] if L.kind != "fully_connected" else 1)
               for L in net.layers if L.weights is not None)
    assert macs < res["instructions_per_inference"] < 40 * macs

    # the model alone at -Os: weights in .rodata, activations in .bss, nothing in .data
    require_tool("arm-none-eabi-size")
    sizes = arm.section_sizes(arm.compile_object(tmp_path / "det.c", out=tmp_path / "arm" / "det.o"))
    weights = sum(L.weights.size for L in net.layers if L.weights is not None)
    assert sizes["rodata"] >= weights
    assert sizes["data"] == 0
    act_bytes, _ = activation_plan(net)
    assert sizes["bss"] == net.input.size + net.output.size + act_bytes  # es_q_in, es_q_out, es_act
    assert sizes["flash"] == sizes["text"] + sizes["rodata"] and sizes["ram"] == sizes["bss"]
