"""The ``edgesynth`` command line.

A thin layer (like tflite-micro's ``*_lib.py`` tools): each subcommand parses its arguments and
calls one library function. Heavy imports (TensorFlow, librosa) happen inside the commands, so
``edgesynth --help`` answers instantly.

Errors from edgesynth (bad data, bad model, bad port, ...) end the command with a one-line
``edgesynth: error: ...`` message on stderr and exit status 1; usage errors exit with 2.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from edgesynth import __version__
from edgesynth.errors import EdgesynthError, ParameterError

EXIT_ERROR = 1


# --------------------------------------------------------------------------- argument helpers
def _add_data_options(p: argparse.ArgumentParser, *, data: bool = True) -> None:
    if data:
        p.add_argument("data", metavar="DATA", help="UCR .tsv/.txt, .arff, .csv, .npz, or a folder of .wav files")
    g = p.add_argument_group("data reading")
    g.add_argument("--normal-label", metavar="L", default=None,
                   help="label of the normal class in labelled text formats (default: 1 for UCR/ARFF files)")
    g.add_argument("--label-column", metavar="C", default=None, help="CSV: column holding labels")
    g.add_argument("--time-column", metavar="C", default=None, help="CSV: column holding timestamps (not a channel)")
    g.add_argument("--window-length", metavar="N", type=int, default=None, help="cut long recordings into windows of N samples")
    g.add_argument("--hop-length", metavar="H", type=int, default=None, help="hop between windows (default: window length)")
    g.add_argument("--channel", metavar="I", default=None,
                   help="WAV: channel index I, 'mix' (mix down, default) or 'all' (keep every channel)")
    g.add_argument("--label-rule", choices=["last", "any", "majority"], default="last",
                   help="label of a window cut from point-labelled samples (default: last)")
    g.add_argument("--sr", type=float, default=None, metavar="HZ", help="expected sample rate (WAV) / sample rate of a CSV")
    g.add_argument("--resample", action="store_true", help="WAV: resample files whose rate differs (default: refuse)")
    g.add_argument("--on-nonfinite", choices=["raise", "drop"], default="raise",
                   help="NaN/inf values: refuse the file (default) or drop those windows and report the count")


def _load_data(args):
    from edgesynth.data import load

    path = Path(args.data)
    if not path.exists():
        raise ParameterError(f"DATA {str(path)!r} does not exist")
    return load(
        path,
        normal_label=args.normal_label,
        label_column=args.label_column,
        time_column=args.time_column,
        window_length=args.window_length,
        hop_length=args.hop_length,
        channel=int(args.channel) if args.channel is not None and str(args.channel).lstrip("-").isdigit() else args.channel,
        label_rule=args.label_rule,
        sr=args.sr,
        resample=args.resample,
        on_nonfinite=args.on_nonfinite,
    )


def _print_json(obj) -> None:
    from edgesynth.artifact import to_json

    sys.stdout.write(to_json(obj))


# --------------------------------------------------------------------------- commands
def cmd_demo(args) -> int:
    from edgesynth.pipeline import run_demo

    run_demo(args.out, quick=args.quick, seed=args.seed, verbose=not args.quiet)
    return 0


def cmd_train(args) -> int:
    from edgesynth.pipeline import TrainConfig, train

    ds = _load_data(args)
    cfg = TrainConfig(
        features=args.features,
        synth=args.synth,
        anomalies=args.anomalies,
        n_synth=args.n_synth,
        epochs=args.epochs,
        seed=args.seed,
        architecture=args.architecture,
        quantization=args.quantization,
        threshold=args.threshold,
        target_fpr=args.target_fpr,
        inject_domain=args.inject_domain,
        widths=tuple(args.widths) if args.widths is not None else None,
        bottleneck=args.bottleneck,
        max_windows=args.max_windows,
    )
    result = train(ds, args.out, cfg, verbose=not args.quiet)
    print(result.summary())
    return 0


def cmd_evaluate(args) -> int:
    from edgesynth.artifact import read_manifest
    from edgesynth.pipeline import evaluate

    read_manifest(args.dir, kind="detector")  # fail on a bad artifact before reading DATA
    ds = _load_data(args)
    res = evaluate(args.dir, ds)
    if args.json:
        _print_json(res)
    else:
        for kind in ("float", "int8"):
            m = res[kind]
            print(
                f"{kind:5s}  AUC {m['auc']:.4f}  pAUC {m['pauc']:.4f}  precision {m['precision']:.3f}  "
                f"recall {m['recall']:.3f}  F1 {m['f1']:.3f}  threshold {m['threshold']:.5g}  "
                f"(n_normal={m['n_normal']}, n_anomaly={m['n_anomaly']})"
            )
    return 0


def cmd_synth(args) -> int:
    from edgesynth.synth.generate import run_synth

    ds = _load_data(args)
    kw = {}
    if args.kinds:
        if args.method not in ("inject", "auto"):
            raise ParameterError(f"--kinds applies to --method inject or auto only. Received: --method {args.method}")
        kw["kinds"] = args.kinds if args.kinds in ("vibration", "ecg", "generic", "auto") else args.kinds.split(",")
    res = run_synth(ds, method=args.method, n=args.n, anomalies=args.anomalies, seed=args.seed, out_dir=args.out,
                    epochs=args.epochs, **kw)
    print(f"wrote {args.n} synthetic anomalies ({args.method}) to {args.out}")
    if isinstance(res, dict) and res:
        keys = [k for k in ("discriminative_score", "mmd", "tstr_auc") if k in res]
        if keys:
            print("  " + "  ".join(f"{k}={res[k]:.4g}" for k in keys if isinstance(res[k], (int, float))))
    return 0


def cmd_export(args) -> int:
    from edgesynth.pipeline import export

    paths = export(args.dir, args.out, name=args.name, target=args.target)
    for p in paths:
        print(p)
    return 0


def cmd_bench(args) -> int:
    from edgesynth.bench import run_bench, format_bench

    res = run_bench(args.dir, reference=args.reference, reference_float=args.reference_float, repeat=args.repeat,
                    warmup=args.warmup, seed=args.seed)
    if args.json:
        _print_json(res)
    else:
        print(format_bench(res))
    return 0


def cmd_stream(args) -> int:
    from edgesynth.deploy.scorer import ArtifactScorer
    from edgesynth.stream.live import run_stream

    scorer = ArtifactScorer.from_dir(args.model)
    summary = run_stream(
        args.port,
        scorer,
        baud=args.baud,
        fmt=args.format,
        record=args.record,
        duration=args.duration,
        rate=args.rate,
        json=args.json,
        out=sys.stdout,
        value_range=tuple(args.value_range) if args.value_range else None,
        reconnect_timeout=args.reconnect_timeout,
    )
    if args.json:
        sys.stdout.write(json.dumps({"summary": summary}) + "\n")
    else:
        print("summary: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    return 0


def cmd_simulate_device(args) -> int:
    from edgesynth.stream.device import simulate_device

    report = simulate_device(
        None if args.pty else args.port,
        pty=args.pty,
        rate=args.rate,
        fmt=args.format,
        anomaly_every=args.anomaly_every,
        duration=args.duration,
        corrupt=args.corrupt,
        seed=args.seed,
        signal=args.signal,
        **({"link": args.link} if args.link else {}),
        **({"dtype": args.dtype} if args.dtype else {}),
    )
    if report:
        print("simulate-device: " + ", ".join(f"{k}={v}" for k, v in report.items()
                                              if isinstance(v, (int, float, str))), file=sys.stderr)
    return 0


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="edgesynth",
        description="Anomaly detection for microcontrollers: synthesize anomalies, train a tiny "
        "autoencoder, quantize to int8, export for TensorFlow Lite Micro, stream from devices.",
    )
    p.add_argument("--version", action="version", version=f"edgesynth {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    d = sub.add_parser("demo", help="run the whole chain on simulated vibration data")
    d.add_argument("--out", required=True, metavar="DIR", help="artifact directory to write")
    d.add_argument("--quick", action="store_true", help="small data and few epochs (for tests)")
    d.add_argument("--seed", type=int, default=0)
    d.add_argument("--quiet", action="store_true", help="no progress output")
    d.set_defaults(func=cmd_demo)

    t = sub.add_parser("train", help="train a detector on DATA and write an artifact directory")
    _add_data_options(t)
    t.add_argument("--out", required=True, metavar="DIR")
    t.add_argument("--features", choices=["raw", "logmel", "spectrum"], default=None,
                   help="feature pipeline (default: logmel for WAV folders, raw for windows of <= 512 values, spectrum for longer ones)")
    t.add_argument("--synth", choices=["none", "inject", "vae", "gan", "auto"], default="auto",
                   help="synthetic anomalies to train with (default: auto)")
    t.add_argument("--anomalies", type=int, default=None, metavar="K",
                   help="use at most K labelled anomalies from DATA (0 = none; default: all)")
    t.add_argument("--n-synth", type=int, default=None, metavar="N", help="number of synthetic anomalies")
    t.add_argument("--epochs", type=int, default=None, metavar="N")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--inject-domain", choices=["auto", "generic", "vibration", "ecg"], default="auto",
                   help="physical injection kinds (auto: the simulator's family, else generic)")
    t.add_argument("--max-windows", type=int, default=200_000, metavar="N",
                   help="train on at most N normal windows (drawn after the split by recording); bounds memory")
    t.add_argument("--architecture", choices=["dense", "conv"], default="dense")
    t.add_argument("--widths", type=int, nargs="*", default=None, metavar="W",
                   help="hidden encoder widths (dense) or filters (conv), the decoder mirrors them; "
                        "dense default: none (input -> code -> output); conv default: 8 16")
    t.add_argument("--bottleneck", type=int, default=None, metavar="N", help="code width of the dense autoencoder (default: 16)")
    t.add_argument("--quantization", choices=["ptq", "qat", "best"], default="best")
    t.add_argument("--threshold", choices=["fpr", "f1", "percentile"], default="fpr")
    t.add_argument("--target-fpr", type=float, default=0.01)
    t.add_argument("--quiet", action="store_true")
    t.set_defaults(func=cmd_train)

    e = sub.add_parser("evaluate", help="score DATA with a trained artifact (float and int8)")
    e.add_argument("dir", metavar="DIR")
    _add_data_options(e)
    e.add_argument("--json", action="store_true", help='print {"float": M, "int8": M}')
    e.set_defaults(func=cmd_evaluate)

    s = sub.add_parser("synth", help="synthesize anomalies and write a quality report")
    _add_data_options(s)
    s.add_argument("--out", required=True, metavar="DIR")
    s.add_argument("--method", required=True, choices=["inject", "vae", "gan", "auto"],
                   help="auto: with real anomalies, the conditional VAE + injection of the kinds validated "
                        "against them (the VAE alone if none validates); without, injection + VAE latent-tail samples")
    s.add_argument("--n", type=int, default=200, metavar="N")
    s.add_argument("--epochs", type=int, default=None, metavar="N", help="generator training epochs (vae, gan)")
    s.add_argument("--kinds", default=None, metavar="DOMAIN_OR_KINDS",
                   help="inject/auto: a domain (vibration, ecg, generic), comma-separated injection kinds, or "
                        "'auto' (the kinds validated against the real training anomalies)")
    s.add_argument("--anomalies", type=int, default=None, metavar="K")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_synth)

    x = sub.add_parser("export", help="write firmware sources for a trained artifact")
    x.add_argument("dir", metavar="DIR")
    x.add_argument("--out", default=None, metavar="FW_DIR", help="default: DIR/firmware")
    x.add_argument("--name", default="edgesynth", help="C identifier prefix (default: edgesynth)")
    x.add_argument("--target", choices=["tflm", "arduino", "standalone-c"], default="tflm")
    x.set_defaults(func=cmd_export)

    b = sub.add_parser("bench", help="latency and memory of a trained artifact (host, TFLM, estimates)")
    b.add_argument("dir", metavar="DIR")
    b.add_argument("--json", action="store_true")
    b.add_argument("--reference", default=None, metavar="MODEL.tflite",
                   help="measure a reference int8 model in the same run and report ratios")
    b.add_argument("--reference-float", default=None, metavar="MODEL.tflite",
                   help="the reference's float model (adds its LiteRT float latency)")
    b.add_argument("--repeat", type=int, default=200, help="timed repetitions per runtime")
    b.add_argument("--warmup", type=int, default=20, help="untimed calls per runtime before timing")
    b.add_argument("--seed", type=int, default=0, help="seed of the random inputs")
    b.set_defaults(func=cmd_bench)

    st = sub.add_parser("stream", help="score a live serial stream with a trained artifact")
    st.add_argument("--port", required=True, metavar="URL", help="/dev/ttyUSB0, loop://, socket://host:port, rfc2217://...")
    st.add_argument("--model", required=True, metavar="DIR")
    st.add_argument("--baud", type=int, default=115200)
    st.add_argument("--format", choices=["auto", "text", "binary"], default="auto")
    st.add_argument("--record", default=None, metavar="FILE", help="record raw samples to .csv or .npz")
    st.add_argument("--duration", type=float, default=None, metavar="S")
    st.add_argument("--rate", type=float, default=None, metavar="HZ", help="sampling rate (default: detect)")
    st.add_argument("--json", action="store_true")
    st.add_argument("--value-range", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                    help="samples outside [LO, HI] count as bad frames (sensor range)")
    st.add_argument("--reconnect-timeout", type=float, default=30.0, metavar="S",
                    help="wait this long for a vanished port to come back before failing")
    st.set_defaults(func=cmd_stream)

    sd = sub.add_parser("simulate-device", help="act as a sensor board on a serial port or a new pty")
    g = sd.add_mutually_exclusive_group(required=True)
    g.add_argument("--port", metavar="URL_OR_PATH")
    g.add_argument("--pty", action="store_true", help="create a pseudo-terminal and print its path")
    sd.add_argument("--rate", type=float, default=1000.0, metavar="HZ")
    sd.add_argument("--format", choices=["text", "binary"], default="text")
    sd.add_argument("--anomaly-every", type=float, default=None, metavar="S")
    sd.add_argument("--duration", type=float, default=None, metavar="S")
    sd.add_argument("--corrupt", type=float, default=0.0, metavar="F", help="fraction of bytes to corrupt")
    sd.add_argument("--signal", choices=["vibration", "ecg", "sine"], default="vibration")
    sd.add_argument("--seed", type=int, default=0)
    sd.add_argument("--link", default=None, metavar="PATH",
                    help="with --pty: a stable symlink to the pty (survives a simulated replug)")
    sd.add_argument("--dtype", choices=["float32", "int16"], default=None, help="binary sample type")
    sd.set_defaults(func=cmd_simulate_device)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ModuleNotFoundError as exc:
        if not (exc.name or "").startswith(("edgesynth", "firmware_export")):
            raise
        print(f"edgesynth {args.command}: error: not available yet ({exc.name} is not built)", file=sys.stderr)
        return EXIT_ERROR
    except EdgesynthError as exc:
        msg = " ".join(str(exc).split())
        print(f"edgesynth {args.command}: error: {msg}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"edgesynth {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
