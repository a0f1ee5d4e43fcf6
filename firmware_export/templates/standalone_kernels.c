/* Integer kernels of the edgesynth standalone emitter (firmware_export/standalone.py).
 *
 * Each block between "@@kernel NAME" and "@@end" is pasted into a generated file only when the
 * model uses it (unused static functions would break -Wall -Werror). The arithmetic follows the
 * TensorFlow Lite Micro reference kernels (tensorflow/lite/kernels/internal/common.h and
 * reference/integer_ops/{fully_connected,conv,transpose_conv,add}.h) operation for operation, so
 * that the int8 outputs are bit-identical to the interpreter's. Right shifts of negative int32
 * values are arithmetic, as on every gcc/clang target (gemmlowp relies on the same).
 */

/* @@kernel requant */
/* gcc: keep small helpers out of line where inlining would starve the hot loops of registers */
#if defined(__GNUC__)
#define ES_NOINLINE __attribute__((noinline))
#else
#define ES_NOINLINE
#endif

/* gemmlowp::SaturatingRoundingDoublingHighMul */
static int32_t es_srdhm(int32_t a, int32_t b)
{
    int64_t ab;
    int32_t nudge;
    if (a == b && a == INT32_MIN) {
        return INT32_MAX;
    }
    ab = (int64_t)a * (int64_t)b;
    nudge = ab >= 0 ? (1 << 30) : (1 - (1 << 30));
    return (int32_t)((ab + nudge) / ((int64_t)1 << 31));
}

/* gemmlowp::RoundingDivideByPOT */
static int32_t es_rdbpot(int32_t x, int exponent)
{
    const int32_t mask = (int32_t)(((int64_t)1 << exponent) - 1);
    const int32_t remainder = x & mask;
    const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
    return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

/* tflite::MultiplyByQuantizedMultiplier (double rounding, as TFLM's reference kernels) */
static int32_t es_mbqm(int32_t x, int32_t multiplier, int shift)
{
    const int left_shift = shift > 0 ? shift : 0;
    const int right_shift = shift > 0 ? 0 : -shift;
    const int32_t shifted = (int32_t)((uint32_t)x << left_shift);
    return es_rdbpot(es_srdhm(shifted, multiplier), right_shift);
}

static int8_t es_clamp(int32_t v, int32_t lo, int32_t hi)
{
    if (v < lo) {
        v = lo;
    }
    if (v > hi) {
        v = hi;
    }
    return (int8_t)v;
}
/* @@end */

/* @@kernel fully_connected */
/* acc + sum(w[i] * x[i]), i < n; unrolled by four, out of line so the loop has its registers */
ES_NOINLINE static int32_t es_dot(const int8_t *w, const int8_t *x, int32_t n, int32_t acc)
{
    const int8_t *const end4 = w + (n & ~(int32_t)3);
    const int8_t *const end = w + n;
    while (w < end4) {
        acc += (int32_t)w[0] * (int32_t)x[0];
        acc += (int32_t)w[1] * (int32_t)x[1];
        acc += (int32_t)w[2] * (int32_t)x[2];
        acc += (int32_t)w[3] * (int32_t)x[3];
        w += 4;
        x += 4;
    }
    while (w < end) {
        acc += (int32_t)*w++ * (int32_t)*x++;
    }
    return acc;
}

/* reference_integer_ops::FullyConnected / FullyConnectedPerChannel, in_w rows (batches) of in_c
 * values. w: [out_c][in_c]; mult/shift: out_c entries when per_channel, else 1. The input offset
 * is folded into the bias at export time (bias[o] + in_offset * sum(w[o])), so the inner loop is
 * one multiply-accumulate; integer sums are exact, the result is the reference kernel's. */
static void es_fully_connected(const int8_t *in, int8_t *out, const es_layer_t *p)
{
    const int32_t n_in = p->in_c, n_out = p->out_c;
    int32_t b, o;
    for (b = 0; b < p->in_w; ++b) {
        for (o = 0; o < n_out; ++o) {
            const int q = p->per_channel ? (int)o : 0;
            int32_t acc = es_dot(p->w + o * n_in, in + b * n_in, n_in, p->bias ? p->bias[o] : 0);
            acc = es_mbqm(acc, p->mult[q], p->shift[q]) + p->out_offset;
            out[b * n_out + o] = es_clamp(acc, p->act_min, p->act_max);
        }
    }
}
/* @@end */

/* @@kernel conv1d */
/* reference_integer_ops::ConvPerChannel with input height 1 and filter height 1.
 * in: [in_w][in_c]; w: [out_c][k][in_c]; out: [out_w][out_c]. */
static void es_conv1d(const int8_t *in, int8_t *out, const es_layer_t *p)
{
    const int32_t in_offset = p->in_offset;
    int ox, oc, fx, ic;
    for (ox = 0; ox < p->out_w; ++ox) {
        const int x0 = ox * p->stride - p->pad;
        for (oc = 0; oc < p->out_c; ++oc) {
            const int q = p->per_channel ? oc : 0;
            int32_t acc = 0;
            for (fx = 0; fx < p->k; ++fx) {
                const int x = x0 + p->dilation * fx;
                const int8_t *src;
                const int8_t *wk;
                if (x < 0 || x >= p->in_w) {
                    continue;
                }
                src = in + (int32_t)x * p->in_c;
                wk = p->w + ((int32_t)oc * p->k + fx) * p->in_c;
                for (ic = 0; ic < p->in_c; ++ic) {
                    acc += (int32_t)wk[ic] * ((int32_t)src[ic] + in_offset);
                }
            }
            if (p->bias) {
                acc += p->bias[oc];
            }
            acc = es_mbqm(acc, p->mult[q], p->shift[q]) + p->out_offset;
            out[(int32_t)ox * p->out_c + oc] = es_clamp(acc, p->act_min, p->act_max);
        }
    }
}
/* @@end */

/* @@kernel transpose_conv1d */
/* reference_integer_ops::TransposeConv with height 1, written as a gather (each output sums the
 * inputs that scatter into it; integer sums are order-independent, so the result is identical
 * and no int32 scratch buffer is needed). w: [out_c][k][in_c]. */
static void es_transpose_conv1d(const int8_t *in, int8_t *out, const es_layer_t *p)
{
    const int32_t in_offset = p->in_offset;
    int ox, oc, fx, ic;
    for (ox = 0; ox < p->out_w; ++ox) {
        for (oc = 0; oc < p->out_c; ++oc) {
            const int q = p->per_channel ? oc : 0;
            int32_t acc = 0;
            for (fx = 0; fx < p->k; ++fx) {
                const int t = ox + p->pad - fx;
                int x;
                const int8_t *src;
                const int8_t *wk;
                if (t < 0 || t % p->stride != 0) {
                    continue;
                }
                x = t / p->stride;
                if (x >= p->in_w) {
                    continue;
                }
                src = in + (int32_t)x * p->in_c;
                wk = p->w + ((int32_t)oc * p->k + fx) * p->in_c;
                for (ic = 0; ic < p->in_c; ++ic) {
                    acc += ((int32_t)src[ic] + in_offset) * (int32_t)wk[ic];
                }
            }
            if (p->bias) {
                acc += p->bias[oc];
            }
            acc = es_mbqm(acc, p->mult[q], p->shift[q]) + p->out_offset;
            out[(int32_t)ox * p->out_c + oc] = es_clamp(acc, p->act_min, p->act_max);
        }
    }
}
/* @@end */

/* @@kernel add_const */
/* reference_integer_ops::Add (int8, left_shift 20) of the activation and a constant tensor that
 * broadcasts over the leading dimensions (w[i % k]); c_offset is minus its zero point.
 * mult/shift hold {activation, constant, output}; in_w * in_c is the element count. */
static void es_add_const(const int8_t *in, int8_t *out, const es_layer_t *p)
{
    const int32_t n = (int32_t)p->in_w * p->in_c;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t a = ((int32_t)in[i] + p->in_offset) * ((int32_t)1 << 20);
        const int32_t b = ((int32_t)p->w[i % p->k] + p->c_offset) * ((int32_t)1 << 20);
        const int32_t sa = es_mbqm(a, p->mult[0], p->shift[0]);
        const int32_t sb = es_mbqm(b, p->mult[1], p->shift[1]);
        const int32_t raw = es_mbqm(sa + sb, p->mult[2], p->shift[2]) + p->out_offset;
        out[i] = es_clamp(raw, p->act_min, p->act_max);
    }
}
/* @@end */

/* @@kernel requantize */
/* reference Requantize (QUANTIZE int8 -> int8) of in_w * in_c elements. */
static void es_requantize(const int8_t *in, int8_t *out, const es_layer_t *p)
{
    const int32_t n = (int32_t)p->in_w * p->in_c;
    int32_t i;
    for (i = 0; i < n; ++i) {
        const int32_t v = es_mbqm((int32_t)in[i] + p->in_offset, p->mult[0], p->shift[0]) + p->out_offset;
        out[i] = es_clamp(v, p->act_min, p->act_max);
    }
}
/* @@end */

/* @@kernel clamp */
/* TFLM's int8 Relu6 (Relu6Quantized): in_w * in_c bytes clamped to [act_min, act_max], no
 * requantization. */
static void es_clamp_layer(const int8_t *in, int8_t *out, const es_layer_t *p)
{
    const int32_t n = (int32_t)p->in_w * p->in_c;
    int32_t i;
    for (i = 0; i < n; ++i) {
        out[i] = es_clamp(in[i], p->act_min, p->act_max);
    }
}
/* @@end */
