/* Minimal ARM semihosting for QEMU (-semihosting-config enable=on): no newlib I/O needed. */
#include "semihost.h"

#define SYS_WRITE0 0x04
#define SYS_EXIT 0x18
#define ADP_STOPPED_APPLICATION_EXIT 0x20026
#define ADP_STOPPED_RUNTIME_ERROR 0x20023

static int32_t es_semihost(int32_t op, const void *arg)
{
    register int32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void es_sh_write0(const char *s)
{
    (void)es_semihost(SYS_WRITE0, s);
}

void es_sh_exit(int status)
{
    /* AArch32 SYS_EXIT takes the reason code itself; QEMU exits 0 for ApplicationExit, 1 else */
    (void)es_semihost(SYS_EXIT, (const void *)(uintptr_t)(status == 0 ? ADP_STOPPED_APPLICATION_EXIT
                                                                        : ADP_STOPPED_RUNTIME_ERROR));
    for (;;) {
    }
}

static char es_line[4096];
static uint32_t es_len;

void es_put_str(const char *s)
{
    while (*s && es_len + 2 < sizeof es_line) {
        es_line[es_len++] = *s++;
    }
}

void es_put_int(int32_t v)
{
    char tmp[12];
    int n = 0;
    uint32_t u = v < 0 ? (uint32_t)0 - (uint32_t)v : (uint32_t)v;
    do {
        tmp[n++] = (char)('0' + u % 10u);
        u /= 10u;
    } while (u);
    if (v < 0) {
        tmp[n++] = '-';
    }
    while (n && es_len + 2 < sizeof es_line) {
        es_line[es_len++] = tmp[--n];
    }
}

void es_put_hex(uint32_t v)
{
    int i;
    for (i = 7; i >= 0 && es_len + 2 < sizeof es_line; --i) {
        es_line[es_len++] = "0123456789abcdef"[(v >> (4 * i)) & 0xfu];
    }
}

void es_put_line(void)
{
    es_line[es_len++] = '\n';
    es_line[es_len] = '\0';
    es_sh_write0(es_line);
    es_len = 0;
}
