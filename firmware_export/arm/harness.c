/* Test-vector harness for the standalone C model under QEMU (firmware_export.arm.build_harness).
 * es_vectors.h (generated) includes the model header and defines ES_INFER, ES_SCORE, the
 * int8 vectors es_in[ES_N][ES_IN], the float windows es_win[ES_NW][ES_WIN] and ES_REPEAT.
 * Output lines: "o v0 v1 ..." per int8 vector, "s rc bits" per window (score as IEEE-754 bits),
 * "c ticks insns" (SysTick ticks for a calibration loop of a known instruction count),
 * "t ticks repeat" (SysTick ticks for ES_REPEAT inferences of vector 0), then "done". */
#include <stdint.h>

#include "es_vectors.h"
#include "semihost.h"

#define SYST_CSR (*(volatile uint32_t *)0xE000E010u)
#define SYST_RVR (*(volatile uint32_t *)0xE000E014u)
#define SYST_CVR (*(volatile uint32_t *)0xE000E018u)

/* calibration: ES_CAL_LOOPS iterations of a two-instruction loop (subs + bne) */
#define ES_CAL_LOOPS 100000u

static int8_t es_out[ES_OUT];

int main(void)
{
    int32_t n, i;
    uint32_t t0, t1, wraps;
    for (n = 0; n < ES_N; ++n) {
        if (ES_INFER(es_in[n], es_out) != 0) {
            return 1;
        }
        es_put_str("o");
        for (i = 0; i < ES_OUT; ++i) {
            es_put_str(" ");
            es_put_int(es_out[i]);
        }
        es_put_line();
    }
#if ES_NW > 0
    for (n = 0; n < ES_NW; ++n) {
        union {
            float f;
            uint32_t u;
        } s;
        int rc;
        s.f = 0.0f;
        rc = ES_SCORE(es_win[n], &s.f);
        es_put_str("s ");
        es_put_int(rc);
        es_put_str(" ");
        es_put_hex(s.u);
        es_put_line();
    }
#endif
    SYST_RVR = 0x00FFFFFFu;
    SYST_CVR = 0u;
    SYST_CSR = 5u; /* processor clock, enabled, no interrupt */
    t0 = SYST_CVR;
    {
        uint32_t k = ES_CAL_LOOPS;
        __asm__ volatile("1: subs %0, %0, #1\n\tbne 1b" : "+r"(k) : : "cc");
    }
    t1 = SYST_CVR;
    es_put_str("c ");
    es_put_int((int32_t)((t0 - t1) & 0x00FFFFFFu));
    es_put_str(" ");
    es_put_int((int32_t)(2u * ES_CAL_LOOPS));
    es_put_line();
    wraps = 0u;
    (void)SYST_CSR; /* reading clears COUNTFLAG */
    t0 = SYST_CVR;
    for (n = 0; n < ES_REPEAT; ++n) {
        (void)ES_INFER(es_in[0], es_out);
        if (SYST_CSR & 0x00010000u) { /* COUNTFLAG: the 24-bit counter wrapped (once per inference at most) */
            ++wraps;
        }
    }
    t1 = SYST_CVR;
    es_put_str("t ");
    es_put_int((int32_t)(wraps * 0x01000000u + t0 - t1));
    es_put_str(" ");
    es_put_int(ES_REPEAT);
    es_put_line();
    es_put_str("done");
    es_put_line();
    return 0;
}
