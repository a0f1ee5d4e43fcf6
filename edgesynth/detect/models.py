"""Autoencoder builders for microcontrollers: plain functional tf-keras graphs.

Both builders return a model whose input and output are *flat* vectors ``(batch, input_dim)``, so
quantization, the device scorer and the exported firmware treat every architecture the same way.
Only ops TensorFlow Lite Micro runs with int8 kernels are used (FULLY_CONNECTED, CONV_2D,
TRANSPOSE_CONV, RESHAPE); there is no BatchNorm to fold.

The anomaly score everywhere in edgesynth is :func:`reconstruction_score`, the mean squared error
per row (higher = more anomalous).

Examples
--------
>>> m = build_dense_autoencoder(140, widths=(32, 16), bottleneck=8)
>>> s = model_stats(m)
>>> s["params"], s["macs"]
(10484, 10240)
"""
from __future__ import annotations

import numpy as np

from edgesynth.errors import ParameterError
from edgesynth.validation import check_positive_int

#: Default encoder widths and bottleneck of the dense autoencoder (decoder mirrors the encoder):
#: one hidden layer of 16 (``input_dim -> 16 -> input_dim``). Measured with int8 on TFLM:
#: ECG5000 K=5 + VAE, 3 seeds: AUC 0.9966 (vs 0.9971 for 32-8-32 and 0.9964 for 32-16-8-16-32),
#: arena 1,576 B (vs 2,328 / 3,096 B), flatbuffer 6.8 KB (vs 12.9 / 14.8 KB); simulated vibration,
#: 2 seeds: AUC 0.989 (vs 0.988). Every extra layer costs ~360 B of TFLM arena; use ``widths``
#: for harder data (e.g. machine sound).
DENSE_WIDTHS = ()
DENSE_BOTTLENECK = 16
#: Default encoder filters of the convolutional autoencoder (each layer halves the time axis).
CONV_FILTERS = (8, 16)

_ACTIVATIONS = ("relu", "relu6", "tanh")


def _check_widths(widths, name: str) -> tuple[int, ...]:
    try:
        ws = tuple(widths)
    except TypeError:
        raise ParameterError(f"`{name}` must be a sequence of positive integers. Received: {name}={widths!r}") from None
    for w in ws:
        check_positive_int(w, name)
    return tuple(int(w) for w in ws)


def build_dense_autoencoder(
    input_dim: int,
    *,
    widths=DENSE_WIDTHS,
    bottleneck: int = DENSE_BOTTLENECK,
    activation: str = "relu",
    seed: int = 0,
    name: str = "dense_ae",
):
    """Dense autoencoder ``input_dim -> widths -> bottleneck -> reversed(widths) -> input_dim``.

    Parameters
    ----------
    input_dim : int
        Length of the (normalized) feature vector.
    widths : sequence of int
        Hidden layer widths of the encoder; the decoder mirrors them.
    bottleneck : int
        Width of the code layer.
    activation : {"relu", "relu6", "tanh"}
        Hidden activation (fused into FULLY_CONNECTED by the converter). The output is linear.
    seed : int
        Seed of the weight initializers (the model owns its randomness).

    Returns
    -------
    tf_keras.Model
        Functional model ``(batch, input_dim) -> (batch, input_dim)``.
    """
    from edgesynth._tf import keras

    input_dim = check_positive_int(input_dim, "input_dim")
    widths = _check_widths(widths, "widths")
    bottleneck = check_positive_int(bottleneck, "bottleneck")
    if activation not in _ACTIVATIONS:
        raise ParameterError(f"`activation` must be one of {_ACTIVATIONS}. Received: activation={activation!r}")
    layers = keras.layers
    k = 0

    def dense(units, act, lname):
        nonlocal k
        k += 1
        return layers.Dense(units, activation=act, name=lname,
                            kernel_initializer=keras.initializers.GlorotUniform(seed=int(seed) * 1000 + k))

    inp = keras.Input(shape=(input_dim,), name="features")
    x = inp
    for i, w in enumerate(widths):
        x = dense(w, activation, f"enc_{i}")(x)
    x = dense(bottleneck, activation, "code")(x)
    for i, w in enumerate(reversed(widths)):
        x = dense(w, activation, f"dec_{i}")(x)
    out = dense(input_dim, None, "reconstruction")(x)
    return keras.Model(inp, out, name=name)


def build_conv_autoencoder(
    window_length: int,
    n_channels: int,
    *,
    filters=CONV_FILTERS,
    kernel_size: int = 5,
    activation: str = "relu",
    seed: int = 0,
    name: str = "conv_ae",
):
    """1-D convolutional autoencoder for raw multichannel windows, flat in and flat out.

    The flat input ``(batch, window_length * n_channels)`` (channel-interleaved, i.e.
    ``X.reshape(n, -1)`` of ``(n, window_length, n_channels)`` windows) is reshaped to
    ``(window_length, n_channels)``; each encoder layer is a stride-2 ``Conv1D``, each decoder layer a
    stride-2 ``Conv1DTranspose``, and a final ``Conv1D`` maps back to ``n_channels``.

    Parameters
    ----------
    window_length : int
        Samples per window; must be divisible by ``2 ** len(filters)``.
    n_channels : int
    filters : sequence of int
        Encoder filters; the decoder mirrors them.
    kernel_size : int
    activation : {"relu", "relu6", "tanh"}
    seed : int
    """
    from edgesynth._tf import keras

    window_length = check_positive_int(window_length, "window_length")
    n_channels = check_positive_int(n_channels, "n_channels")
    filters = _check_widths(filters, "filters")
    kernel_size = check_positive_int(kernel_size, "kernel_size")
    if activation not in _ACTIVATIONS:
        raise ParameterError(f"`activation` must be one of {_ACTIVATIONS}. Received: activation={activation!r}")
    if not filters:
        raise ParameterError("`filters` needs at least one layer. Received: filters=()")
    f = 2 ** len(filters)
    if window_length % f:
        raise ParameterError(
            f"`window_length` must be divisible by 2**len(filters)={f} for the conv autoencoder. "
            f"Received: window_length={window_length}"
        )
    layers = keras.layers
    k = 0

    def init():
        nonlocal k
        k += 1
        return keras.initializers.GlorotUniform(seed=int(seed) * 1000 + k)

    d = window_length * n_channels
    inp = keras.Input(shape=(d,), name="features")
    x = layers.Reshape((window_length, n_channels), name="to_window")(inp)
    for i, nf in enumerate(filters):
        x = layers.Conv1D(nf, kernel_size, strides=2, padding="same", activation=activation,
                          kernel_initializer=init(), name=f"enc_{i}")(x)
    for i, nf in enumerate(reversed(filters)):
        x = layers.Conv1DTranspose(nf, kernel_size, strides=2, padding="same", activation=activation,
                                   kernel_initializer=init(), name=f"dec_{i}")(x)
    x = layers.Conv1D(n_channels, kernel_size, padding="same", kernel_initializer=init(), name="reconstruction")(x)
    out = layers.Reshape((d,), name="to_flat")(x)
    return keras.Model(inp, out, name=name)


def model_stats(model) -> dict:
    """Size and cost of a model before training.

    Returns
    -------
    dict
        ``params`` (trainable + non-trainable), ``macs`` (multiply-accumulates per inference,
        Dense: ``in * out``; Conv1D: ``out_len * kernel * in_ch * out_ch``; Conv1DTranspose:
        ``in_len * kernel * in_ch * out_ch``), ``int8_bytes_estimate`` (int8 weights + int32 biases,
        the bulk of the ``.tflite`` flatbuffer) and ``layers``.
    """
    from edgesynth._tf import keras

    macs = 0
    weight_bytes = 0
    for layer in model.layers:
        if isinstance(layer, keras.layers.Dense):
            kin, kout = layer.kernel.shape
            macs += int(kin) * int(kout)
        elif isinstance(layer, keras.layers.Conv1DTranspose):
            kk, cout, cin = layer.kernel.shape
            in_len = layer.input_shape[1]
            macs += int(in_len) * int(kk) * int(cin) * int(cout)
        elif isinstance(layer, keras.layers.Conv1D):
            kk, cin, cout = layer.kernel.shape
            out_len = layer.output_shape[1]
            macs += int(out_len) * int(kk) * int(cin) * int(cout)
        for w in layer.weights:
            n = int(np.prod(w.shape))
            weight_bytes += 4 * n if "bias" in w.name else n
    return {
        "params": int(model.count_params()),
        "macs": int(macs),
        "int8_bytes_estimate": int(weight_bytes),
        "layers": len(model.layers),
    }


def reconstruction_score(x, x_hat) -> np.ndarray:
    """Mean squared reconstruction error per row (the anomaly score; higher = more anomalous).

    Parameters
    ----------
    x : np.ndarray [shape=(n, ...)]
    x_hat : np.ndarray [shape=(n, ...)], same number of values per row

    Returns
    -------
    np.ndarray [shape=(n,)], float32

    Examples
    --------
    >>> reconstruction_score(np.array([[0., 0.], [1., 3.]]), np.array([[0., 0.], [1., 1.]]))
    array([0., 2.], dtype=float32)
    """
    x = np.asarray(x, dtype=np.float32)
    x = x.reshape(len(x), -1)
    x_hat = np.asarray(x_hat, dtype=np.float32)
    if x_hat.size != x.size:
        raise ParameterError(
            f"`x_hat` must have as many values as `x`. Received: x.shape={x.shape}, x_hat.shape={x_hat.shape}"
        )
    x_hat = x_hat.reshape(x.shape)
    return np.mean((x - x_hat) ** 2, axis=1, dtype=np.float64).astype(np.float32)
