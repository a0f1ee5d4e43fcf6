/* Real FFT of ES_NFFT samples of one channel of the raw window (edgesynth standalone emitter):
 * periodic Hann window, then a radix-2 complex FFT of ES_NFFT / 2 points on the even/odd samples
 * packed as real/imaginary parts, split into the real transform's bins 0 .. ES_NFFT / 2.
 * Single precision throughout. */
#define ES_NFFT @@N_FFT@@
#define ES_HALF (ES_NFFT / 2)
#define ES_NCH @@N_CHANNELS@@

@@HANN@@
/* cos and sin of 2*pi*k/n_fft, k < n_fft/2 */
@@COS@@
@@SIN@@
static float es_re[ES_HALF];
static float es_im[ES_HALF];
static float es_spec[ES_HALF + 1];

/* in-place complex radix-2 FFT of ES_HALF points (forward, e^{-i}) */
static void es_fft_half(float *re, float *im)
{
    uint32_t i, j = 0, k, len;
    for (i = 1; i < ES_HALF; ++i) {
        uint32_t bit = ES_HALF >> 1;
        for (; j & bit; bit >>= 1) {
            j ^= bit;
        }
        j ^= bit;
        if (i < j) {
            float t = re[i];
            re[i] = re[j];
            re[j] = t;
            t = im[i];
            im[i] = im[j];
            im[j] = t;
        }
    }
    for (len = 2; len <= ES_HALF; len <<= 1) {
        const uint32_t half = len >> 1;
        const uint32_t step = ES_NFFT / len;
        for (i = 0; i < ES_HALF; i += len) {
            for (k = 0; k < half; ++k) {
                const float wr = es_cos[k * step];
                const float wi = -es_sin[k * step];
                float *ar = &re[i + k], *ai = &im[i + k];
                float *br = &re[i + k + half], *bi = &im[i + k + half];
                const float xr = *br * wr - *bi * wi;
                const float xi = *br * wi + *bi * wr;
                *br = *ar - xr;
                *bi = *ai - xi;
                *ar += xr;
                *ai += xi;
            }
        }
    }
}

/* es_spec[k] = @@SPEC_DOC@@ of rfft(hann * frame), k = 0 .. ES_HALF, for the ES_NFFT samples of
 * channel ch starting at sample `start` of the window (window[t * ES_NCH + ch]) */
static void es_spectrum(const float *window, int32_t start, int ch)
{
    uint32_t k;
    for (k = 0; k < ES_HALF; ++k) {
        es_re[k] = window[(start + 2 * (int32_t)k) * ES_NCH + ch] * es_hann[2 * k];
        es_im[k] = window[(start + 2 * (int32_t)k + 1) * ES_NCH + ch] * es_hann[2 * k + 1];
    }
    es_fft_half(es_re, es_im);
    /* split the packed half-size transform into the real transform's bins 0..ES_HALF */
    for (k = 0; k <= ES_HALF; ++k) {
        const uint32_t a_i = k % ES_HALF, c_i = (ES_HALF - k) % ES_HALF;
        const float a = es_re[a_i], b = es_im[a_i], c = es_re[c_i], d = es_im[c_i];
        const float er = 0.5f * (a + c), ei = 0.5f * (b - d);
        const float orr = 0.5f * (b + d), oi = -0.5f * (a - c);
        float wr, wi, xr, xi;
        if (k < ES_HALF) {
            wr = es_cos[k];
            wi = -es_sin[k];
        } else {
            wr = -1.0f;
            wi = 0.0f;
        }
        xr = er + wr * orr - wi * oi;
        xi = ei + wr * oi + wi * orr;
        es_spec[k] = @@SPEC_EXPR@@;
    }
}
