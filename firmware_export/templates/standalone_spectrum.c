/* Band-spectrum front end (edgesynth FeaturePipeline kind="spectrum", for vibration): per
 * channel, the amplitude spectrum |rfft(hann * window)| * 2 / sum(hann) of the whole window,
 * averaged over n_bands equal-width bands of the bins 1 .. window_length / 2 (DC dropped),
 * then @@BAND_DOC@@. Output per channel: [ch0 band0..band(n_bands-1), ch1 ...]. */
@@FFT@@
#define ES_NBANDS @@N_BANDS@@
#define ES_EPS @@EPS@@
#define ES_AMP @@AMP@@

/* band b averages the bins es_band_edge[b] + 1 .. es_band_edge[b + 1] */
@@BAND_EDGES@@
static float es_feat[@@UNAME@@_N_FEATURES];

int @@NAME@@_features(const float *window, float *features)
{
    int ch, b;
    if (window == 0 || features == 0) {
        return @@UNAME@@_ERR_NULL;
    }
    for (ch = 0; ch < ES_NCH; ++ch) {
        float *out = features + (int32_t)ch * ES_NBANDS;
        es_spectrum(window, 0, ch);
        for (b = 0; b < ES_NBANDS; ++b) {
            const int32_t lo = (int32_t)es_band_edge[b] + 1, hi = (int32_t)es_band_edge[b + 1];
            int32_t k;
            float acc = 0.0f;
            for (k = lo; k <= hi; ++k) {
                acc += es_spec[k] * ES_AMP;
            }
            acc /= (float)(hi - lo + 1);
            out[b] = @@BAND_EXPR@@;
        }
    }
    return @@UNAME@@_OK;
}
