@@BANNER@@/*
 * @@NAME@@.h: dependency-free int8 inference for the edgesynth detector "@@NAME@@".
 *
 * Plain C99: needs <stdint.h> (and <math.h> inside @@NAME@@.c for the float front end).
 * No interpreter, no arena, no malloc: the weights are const arrays and the activations live in
 * static buffers (not reentrant; call from one thread/context at a time).
 *
 * Model: @@SUMMARY@@
 *
 * Return codes (every function):
 *   @@UNAME@@_OK            0   success
 *   @@UNAME@@_ERR_NULL     -1   a pointer argument is NULL
 *   @@UNAME@@_ERR_NONFINITE -2  @@NAME@@_score: the window holds a NaN or an infinity
 *
 * Decision rule: score > @@UNAME@@_THRESHOLD means anomaly (higher score = more anomalous).
 */
#ifndef @@GUARD@@
#define @@GUARD@@

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define @@UNAME@@_OK 0
#define @@UNAME@@_ERR_NULL (-1)
#define @@UNAME@@_ERR_NONFINITE (-2)

/* Raw window expected by @@NAME@@_score: window_length samples x n_channels, sample-major
 * (window[t * n_channels + c]). */
#define @@UNAME@@_WINDOW_LENGTH @@WINDOW_LENGTH@@
#define @@UNAME@@_N_CHANNELS @@N_CHANNELS@@
#define @@UNAME@@_WINDOW_SIZE @@WINDOW_SIZE@@
/* Feature vector fed to the model (@@FEATURE_KIND@@ features). */
#define @@UNAME@@_N_FEATURES @@N_FEATURES@@
/* int8 model input and output sizes and quantization (real = scale * (q - zero_point)). */
#define @@UNAME@@_INPUT_SIZE @@INPUT_SIZE@@
#define @@UNAME@@_OUTPUT_SIZE @@OUTPUT_SIZE@@
#define @@UNAME@@_INPUT_SCALE @@INPUT_SCALE@@
#define @@UNAME@@_INPUT_ZERO_POINT @@INPUT_ZERO_POINT@@
#define @@UNAME@@_OUTPUT_SCALE @@OUTPUT_SCALE@@
#define @@UNAME@@_OUTPUT_ZERO_POINT @@OUTPUT_ZERO_POINT@@
/* Decision threshold in the int8 model's dequantized score units. */
#define @@UNAME@@_THRESHOLD @@THRESHOLD@@

/* Run the int8 network: in[@@UNAME@@_INPUT_SIZE] -> out[@@UNAME@@_OUTPUT_SIZE].
 * Bit-identical to the TFLite Micro reference kernels. `in` and `out` must not overlap.
 * Returns @@UNAME@@_OK or @@UNAME@@_ERR_NULL. */
int @@NAME@@_infer_int8(const int8_t *in, int8_t *out);

/* Anomaly score of one raw window[@@UNAME@@_WINDOW_SIZE]:
 * @@FRONT_END_DOC@@normalize with the training mean/scale, quantize, run the int8 network,
 * dequantize and return the mean squared reconstruction error against the normalized features
 * in *score. Returns @@UNAME@@_OK, @@UNAME@@_ERR_NULL or @@UNAME@@_ERR_NONFINITE (then *score is
 * left unchanged). */
int @@NAME@@_score(const float *window, float *score);
@@EXTRA_DECL@@
#ifdef __cplusplus
}
#endif

#endif /* @@GUARD@@ */
