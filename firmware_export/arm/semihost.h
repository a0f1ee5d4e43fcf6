/* Minimal ARM semihosting (SYS_WRITE0, SYS_EXIT) for QEMU runs of the standalone-C harness. */
#ifndef EDGESYNTH_SEMIHOST_H_
#define EDGESYNTH_SEMIHOST_H_

#include <stdint.h>

void es_sh_write0(const char *s);
void es_sh_exit(int status);

/* Line builder: append text / integers / raw 32-bit patterns in hex, then flush with es_sh_line. */
void es_put_str(const char *s);
void es_put_int(int32_t v);
void es_put_hex(uint32_t v);
void es_put_line(void);

#endif
