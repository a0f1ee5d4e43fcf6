"""Cortex-M4 build and QEMU run of standalone C models (tests and benchmarks; no TensorFlow).

Files here: ``mps2_an386.ld`` (linker script: vector table at 0 in SSRAM1, RAM at 0x20000000),
``startup.c`` (vector table, .data/.bss init, exit through semihosting), ``semihost.[ch]``
(SYS_WRITE0/SYS_EXIT, no newlib I/O) and ``harness.c`` (prints the model's outputs for test
vectors embedded in the binary). Toolchain: Debian ``gcc-arm-none-eabi``,
``libnewlib-arm-none-eabi`` (libm's ``roundf``) and ``qemu-system-arm``.

>>> sizes = parse_size_output("sec  size  addr\\n.text  120  0\\n.bss  8  0\\nTotal 128\\n")
>>> sizes["flash"], sizes["ram"]
(120, 8)
"""
from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

from edgesynth.errors import ExportError, NotAvailableError

HERE = Path(__file__).resolve().parent
CPU_FLAGS = ["-mcpu=cortex-m4", "-mthumb"]
CFLAGS = CPU_FLAGS + ["-Os", "-std=c99", "-Wall", "-Wextra", "-Werror", "-pedantic",
                      "-ffunction-sections", "-fdata-sections"]
#: mps2-an386 SysTick runs from the 25 MHz system clock; with ``-icount shift=0`` one instruction
#: is one virtual nanosecond, so one tick is 40 instructions (the harness measures it, too).
INSNS_PER_TICK = 40
QEMU_CMD = ["qemu-system-arm", "-M", "mps2-an386", "-nographic", "-monitor", "none", "-serial", "none",
            "-semihosting-config", "enable=on,target=native", "-icount", "shift=0,sleep=off"]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise NotAvailableError(f"{name} is not installed (Debian: apt-get install gcc-arm-none-eabi "
                                "libnewlib-arm-none-eabi qemu-system-arm)")
    return path


def _run(cmd: list[str], what: str, *, timeout: float = 120.0) -> subprocess.CompletedProcess:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        raise ExportError(f"{what} failed (exit {proc.returncode}): {' '.join(cmd)}\n{proc.stderr[-4000:]}")
    return proc


def _c_rows(arr: np.ndarray, fmt) -> str:
    return ",\n".join("    {" + ", ".join(fmt(v) for v in row) + "}" for row in arr)


def _cf(v) -> str:
    s = "%.9g" % float(np.float32(v))
    if not any(ch in s for ch in ".eni"):
        s += ".0"
    return s + "f"


def vectors_header(name: str, Xq: np.ndarray, windows: np.ndarray | None = None, *, repeat: int = 10) -> str:
    """Text of ``es_vectors.h``: the int8 test vectors (and float windows) for ``harness.c``."""
    Xq = np.asarray(Xq, dtype=np.int8)
    W = np.zeros((0, 1), np.float32) if windows is None else np.asarray(windows, np.float32).reshape(len(windows), -1)
    u = name.upper()
    out = [f'#include "{name}.h"\n',
           f"#define ES_INFER {name}_infer_int8\n#define ES_SCORE {name}_score\n",
           f"#define ES_N {len(Xq)}\n#define ES_IN {u}_INPUT_SIZE\n#define ES_OUT {u}_OUTPUT_SIZE\n",
           f"#define ES_NW {len(W)}\n#define ES_WIN {u}_WINDOW_SIZE\n#define ES_REPEAT {int(repeat)}\n",
           f"static const int8_t es_in[{max(len(Xq), 1)}][ES_IN] = {{\n{_c_rows(Xq, str) or '    {0}'}\n}};\n"]
    if len(W):
        out.append(f"static const float es_win[{len(W)}][ES_WIN] = {{\n{_c_rows(W, _cf)}\n}};\n")
    return "".join(out)


def build_harness(model_dir, name: str, Xq: np.ndarray, windows: np.ndarray | None = None, *,
                  out_dir=None, repeat: int = 10) -> Path:
    """Cross-compile ``model_dir/NAME.c`` with the QEMU harness; returns the ELF path."""
    cc = _tool("arm-none-eabi-gcc")
    model_dir = Path(model_dir)
    out_dir = Path(out_dir or model_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "es_vectors.h").write_text(vectors_header(name, Xq, windows, repeat=repeat))
    elf = out_dir / f"{name}_qemu.elf"
    cmd = [cc, *CFLAGS, "-I", str(model_dir), "-I", str(out_dir), "-I", str(HERE), "-nostartfiles",
           "-T", str(HERE / "mps2_an386.ld"), "-Wl,--gc-sections",
           str(HERE / "startup.c"), str(HERE / "semihost.c"), str(HERE / "harness.c"),
           str(model_dir / f"{name}.c"), "-lm", "-lc", "-lgcc", "-o", str(elf)]
    _run(cmd, "arm-none-eabi-gcc (QEMU harness)")
    return elf


def run_qemu(elf, *, timeout: float = 60.0) -> str:
    """Run ``elf`` on QEMU mps2-an386 with semihosting; returns its output (raises on failure)."""
    qemu = _tool("qemu-system-arm")
    proc = _run([qemu, *QEMU_CMD[1:], "-kernel", str(elf)], "qemu-system-arm", timeout=timeout)
    text = proc.stdout + proc.stderr  # semihosting console output may land on either stream
    if "\ndone" not in "\n" + text:
        raise ExportError(f"QEMU run of {elf} did not finish:\n{text[-4000:]}")
    return text


def parse_harness_output(text: str) -> dict:
    """What ``harness.c`` printed.

    Returns ``{"outputs": int8 (n, out), "scores": float32 (nw,), "rc": int (nw,), "ticks",
    "repeat", "insns_per_tick", "instructions_per_inference"}``. ``insns_per_tick`` is measured
    by the harness's calibration loop (2 instructions x N); with ``-icount shift=0`` it is
    :data:`INSNS_PER_TICK`.

    >>> r = parse_harness_output("o 1 -2\\nc 5000 200000\\nt 300 10\\ndone\\n")
    >>> r["outputs"].tolist(), r["insns_per_tick"], r["instructions_per_inference"]
    ([[1, -2]], 40.0, 1200.0)
    """
    outs, scores, rcs, ticks, repeat = [], [], [], None, None
    cal = None
    for line in text.splitlines():
        parts = line.split()
        if not parts:
            continue
        if parts[0] == "o":
            outs.append([int(v) for v in parts[1:]])
        elif parts[0] == "s":
            rcs.append(int(parts[1]))
            scores.append(np.frombuffer(int(parts[2], 16).to_bytes(4, "little"), dtype="<f4")[0])
        elif parts[0] == "t":
            ticks, repeat = int(parts[1]), int(parts[2])
        elif parts[0] == "c":
            cal = (int(parts[1]), int(parts[2]))
    per_tick = cal[1] / cal[0] if cal and cal[0] else None
    return {"outputs": np.array(outs, dtype=np.int8), "scores": np.array(scores, dtype=np.float32),
            "rc": np.array(rcs, dtype=int), "ticks": ticks, "repeat": repeat, "insns_per_tick": per_tick,
            "instructions_per_inference": None if not (ticks and per_tick) else ticks * per_tick / repeat}


def parse_size_output(text: str) -> dict:
    """Parse ``size -A``: every section's bytes plus ``flash`` (.text+.rodata+.data) and ``ram`` (.data+.bss)."""
    sec: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].startswith(".") and parts[1].isdigit():
            sec[parts[0]] = sec.get(parts[0], 0) + int(parts[1])

    def total(prefix: str) -> int:
        return sum(v for k, v in sec.items() if k == prefix or k.startswith(prefix + "."))

    text_b, ro, data, bss = total(".text"), total(".rodata"), total(".data"), total(".bss")
    return {"sections": sec, "text": text_b, "rodata": ro, "data": data, "bss": bss,
            "flash": text_b + ro + data, "ram": data + bss}


def section_sizes(path) -> dict:
    """``arm-none-eabi-size -A`` of an object or ELF, parsed by :func:`parse_size_output`."""
    tool = _tool("arm-none-eabi-size")
    return parse_size_output(_run([tool, "-A", str(path)], "arm-none-eabi-size").stdout)


def compile_object(c_file, *, out=None, extra: list[str] | None = None) -> Path:
    """Compile one C file for Cortex-M4 (``-Os``) into an object; returns its path."""
    cc = _tool("arm-none-eabi-gcc")
    c_file = Path(c_file)
    out = Path(out or c_file.with_suffix(".o"))
    _run([cc, *CFLAGS, *(extra or []), "-c", str(c_file), "-o", str(out)], "arm-none-eabi-gcc")
    return out


__all__ = ["CFLAGS", "INSNS_PER_TICK", "vectors_header", "build_harness", "run_qemu",
           "parse_harness_output", "parse_size_output", "section_sizes", "compile_object"]
