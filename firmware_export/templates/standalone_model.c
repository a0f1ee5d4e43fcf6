@@BANNER@@/*
 * @@NAME@@.c: dependency-free int8 inference for the edgesynth detector "@@NAME@@" (see @@NAME@@.h).
 *
 * @@SUMMARY@@
 */
#include "@@NAME@@.h"

#include <math.h>

/* One layer's parameters (int16 fields keep the table small in flash). */
typedef struct {
    const int8_t *w;       /* int8 weights (or the constant operand of an ADD) */
    const int32_t *bias;   /* int32 bias, or 0 */
    const int32_t *mult;   /* fixed-point multipliers (QuantizeMultiplier) */
    const int8_t *shift;   /* matching exponents */
    int16_t in_offset;     /* -input zero point (fully connected: folded into the bias) */
    int16_t out_offset;    /* output zero point */
    int16_t c_offset;      /* -zero point of an ADD's constant operand */
    int16_t act_min;       /* fused activation clamp, quantized */
    int16_t act_max;
    int16_t in_w, in_c, out_w, out_c;
    int16_t k, stride, dilation, pad;
    int16_t per_channel;
} es_layer_t;

@@KERNELS@@
/* ------------------------------------------------------------------ parameters */
@@DATA@@
/* ------------------------------------------------------------------ inference */
@@BUFFERS@@
int @@NAME@@_infer_int8(const int8_t *in, int8_t *out)
{
    if (in == 0 || out == 0) {
        return @@UNAME@@_ERR_NULL;
    }
@@INFER_BODY@@    return @@UNAME@@_OK;
}

/* ------------------------------------------------------------------ float front end */
@@FRONT_END@@
