/* Log-mel front end (edgesynth FeaturePipeline kind="logmel", the DCASE 2020 / MLPerf Tiny
 * definition): per channel, n_frames frames of n_fft samples every hop_length samples
 * (center=False), periodic Hann window, real FFT, |X|^power, librosa's mel filter bank (stored
 * sparse: each filter's non-zero span), then (20 / power) * log10(mel + eps).
 * Output frame-major per channel: [ch0 frame0 mel0..mel(n_mels-1), ch0 frame1 ..., ch1 ...]. */
@@FFT@@
#define ES_HOP @@HOP_LENGTH@@
#define ES_NFRAMES @@N_FRAMES@@
#define ES_NMELS @@N_MELS@@
#define ES_EPS @@EPS@@
#define ES_DB_GAIN @@DB_GAIN@@

@@MEL_START@@
@@MEL_LEN@@
@@MEL_OFFSET@@
@@MEL_W@@
static float es_feat[@@UNAME@@_N_FEATURES];

int @@NAME@@_features(const float *window, float *features)
{
    int ch, fr, m, j;
    if (window == 0 || features == 0) {
        return @@UNAME@@_ERR_NULL;
    }
    for (ch = 0; ch < ES_NCH; ++ch) {
        for (fr = 0; fr < ES_NFRAMES; ++fr) {
            float *out = features + ((int32_t)ch * ES_NFRAMES + fr) * ES_NMELS;
            es_spectrum(window, (int32_t)fr * ES_HOP, ch);
            for (m = 0; m < ES_NMELS; ++m) {
                const float *w = es_mel_w + es_mel_offset[m];
                const float *p = es_spec + es_mel_start[m];
                float acc = 0.0f;
                for (j = 0; j < (int)es_mel_len[m]; ++j) {
                    acc += w[j] * p[j];
                }
                out[m] = ES_DB_GAIN * log10f(acc + ES_EPS);
            }
        }
    }
    return @@UNAME@@_OK;
}
