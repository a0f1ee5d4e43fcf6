"""The CLI contract: names and flags, instant --help, one-line errors that write nothing."""
import subprocess
import sys

import numpy as np
import pytest

from edgesynth.cli import build_parser, main

CONTRACT = [
    "demo --out D --quick --seed 3",
    "train data.tsv --out D --normal-label 1 --features raw --synth auto --anomalies 5 --epochs 3 --seed 1",
    "train data.tsv --out D --features logmel --synth none",
    "train data.csv --out D --label-column state --time-column t --window-length 64 --hop-length 32",
    "train wavs --out D --channel 0 --synth vae",
    "evaluate D data.tsv --normal-label 1 --json",
    "synth data.tsv --out D --method gan --n 10 --anomalies 5 --normal-label 1 --seed 2",
    "export D --out F --name ecg --target arduino",
    "export D --out F --target standalone-c",
    "bench D --json --reference ref.tflite",
    "stream --port loop:// --model D --baud 9600 --format binary --record r.csv --duration 2 --json",
    "simulate-device --pty --rate 50 --format text --anomaly-every 3 --duration 5",
    "simulate-device --port /dev/ttyS0 --format binary",
]


@pytest.mark.parametrize("argv", CONTRACT)
def test_contract_parses(argv):
    args = build_parser().parse_args(argv.split())
    assert callable(args.func)


def test_help_is_instant_and_tensorflow_free():
    code = (
        "import sys, edgesynth.cli as c\n"
        "try:\n    c.main(['--help'])\nexcept SystemExit:\n    pass\n"
        "assert 'tensorflow' not in sys.modules, 'tensorflow imported by --help'\n"
        "assert 'librosa' not in sys.modules\n"
    )
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "simulate-device" in r.stdout


def test_console_script_entry_point_declared():
    import tomllib
    from pathlib import Path

    cfg = tomllib.loads((Path(__file__).resolve().parents[1] / "pyproject.toml").read_text())
    assert cfg["project"]["scripts"]["edgesynth"] == "edgesynth.cli:main"


def test_usage_error_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train"])
    assert exc.value.code == 2


def _one_line_error(capsys, argv, match):
    rc = main(argv)
    err = capsys.readouterr().err.strip()
    assert rc == 1
    assert len(err.splitlines()) == 1, err
    assert "error:" in err and match in err, err
    return err


def test_missing_file(tmp_path, capsys):
    _one_line_error(capsys, ["train", str(tmp_path / "nope.tsv"), "--out", str(tmp_path / "o")], "does not exist")
    assert not (tmp_path / "o").exists()


def test_unknown_format(tmp_path, capsys):
    f = tmp_path / "data.xyz"
    f.write_text("1 2 3\n")
    _one_line_error(capsys, ["train", str(f), "--out", str(tmp_path / "o")], "data.xyz")
    assert not (tmp_path / "o").exists()


def test_empty_file(tmp_path, capsys):
    f = tmp_path / "empty.tsv"
    f.write_text("")
    _one_line_error(capsys, ["train", str(f), "--out", str(tmp_path / "o")], "empty.tsv")
    assert not (tmp_path / "o").exists()


def test_nan_in_data(tmp_path, capsys):
    f = tmp_path / "nan.tsv"
    rows = np.random.default_rng(0).standard_normal((20, 8))
    rows[3, 2] = np.nan
    f.write_text("\n".join("1\t" + "\t".join(f"{v:.3f}" for v in r) for r in rows) + "\n")
    _one_line_error(capsys, ["train", str(f), "--out", str(tmp_path / "o")], "nan.tsv")
    assert not (tmp_path / "o").exists()


def test_unknown_normal_label(tmp_path, capsys):
    f = tmp_path / "d.tsv"
    rows = np.random.default_rng(0).standard_normal((20, 8))
    f.write_text("\n".join(f"{1 + i % 2}\t" + "\t".join(f"{v:.3f}" for v in r) for i, r in enumerate(rows)) + "\n")
    _one_line_error(capsys, ["train", str(f), "--out", str(tmp_path / "o"), "--normal-label", "7"], "7")
    assert not (tmp_path / "o").exists()


def test_evaluate_needs_an_artifact(tmp_path, capsys):
    f = tmp_path / "d.tsv"
    rows = np.random.default_rng(0).standard_normal((20, 8))
    f.write_text("\n".join(f"{1 + i % 2}\t" + "\t".join(f"{v:.3f}" for v in r) for i, r in enumerate(rows)) + "\n")
    _one_line_error(capsys, ["evaluate", str(tmp_path / "no_model"), str(f)], "no_model")


def test_export_rejects_reserved_name(tmp_path, capsys):
    _one_line_error(capsys, ["export", str(tmp_path), "--name", "int"], "reserved")


def test_synth_auto_method_and_kinds_through_the_cli(tmp_path, capsys):
    import numpy as np

    from edgesynth.artifact import read_manifest
    from edgesynth.data import simulate_ecg
    from edgesynth.synth.inject import inject

    beats = simulate_ecg(70, anomaly_fraction=0.0, seed=1).X
    X = np.concatenate([beats, inject(beats[:14], "saturation", seed=2)])
    np.savez(tmp_path / "beats.npz", X=X, y=np.r_[np.zeros(70, np.int8), np.ones(14, np.int8)])
    out = tmp_path / "auto"
    assert main(["synth", str(tmp_path / "beats.npz"), "--out", str(out), "--method", "auto", "--n", "12",
                 "--epochs", "2", "--anomalies", "8"]) == 0
    info = read_manifest(out, kind="synth")["synth"]["info"]
    assert info["method"] == "auto" and "saturation" in info["kinds_selected"].split(",")
    assert "saturation=" in info["kind_scores"]
    kinds = {k.split(":")[0] for k in np.load(out / "samples.npz")["kinds"].tolist()}
    assert kinds == {"vae", "inject"}
    out2 = tmp_path / "inj"
    assert main(["synth", str(tmp_path / "beats.npz"), "--out", str(out2), "--method", "inject", "--n", "12",
                 "--kinds", "auto", "--anomalies", "8"]) == 0
    used = {k.split(":")[1] for k in np.load(out2 / "samples.npz")["kinds"].tolist()}
    assert used == set(read_manifest(out2, kind="synth")["synth"]["info"]["kinds_selected"].split(","))


def test_synth_inject_kinds_and_epochs_reach_the_generator(tmp_path, capsys):
    import numpy as np

    from edgesynth.artifact import read_manifest
    from edgesynth.data import simulate_ecg

    ds = simulate_ecg(60, anomaly_fraction=0.2, seed=1)
    np.savez(tmp_path / "beats.npz", X=ds.X, y=ds.y)
    out = tmp_path / "syn"
    assert main(["synth", str(tmp_path / "beats.npz"), "--out", str(out), "--method", "inject", "--n", "24",
                 "--kinds", "spike,st_shift", "--anomalies", "4"]) == 0
    kinds = set(np.load(out / "samples.npz")["kinds"].tolist())
    assert kinds and {k.split(":")[-1] for k in kinds} <= {"spike", "st_shift"}
    assert main(["synth", str(tmp_path / "beats.npz"), "--out", str(tmp_path / "v"), "--method", "vae",
                 "--n", "8", "--epochs", "2", "--anomalies", "4"]) == 0
    assert read_manifest(tmp_path / "v", kind="synth")["synth"]["info"]["epochs"] == 2
    assert main(["synth", str(tmp_path / "beats.npz"), "--out", str(tmp_path / "bad"), "--method", "vae",
                 "--kinds", "ecg"]) == 1
    assert "--kinds applies to --method inject or auto only" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()
