/* Cortex-M4 startup for QEMU mps2-an386: vector table at 0, copy .data, zero .bss, run main,
 * report the exit status through semihosting. */
#include <stdint.h>

#include "semihost.h"

extern uint32_t _es_data_load, _es_data_start, _es_data_end, _es_bss_start, _es_bss_end, _es_stack_top;
extern int main(void);

void es_reset_handler(void);
void es_fault_handler(void);

void es_reset_handler(void)
{
    uint32_t *src = &_es_data_load;
    uint32_t *dst = &_es_data_start;
    while (dst < &_es_data_end) {
        *dst++ = *src++;
    }
    for (dst = &_es_bss_start; dst < &_es_bss_end; ++dst) {
        *dst = 0;
    }
    es_sh_exit(main());
}

void es_fault_handler(void)
{
    es_sh_write0("edgesynth: hard fault\n");
    es_sh_exit(1);
}

__attribute__((section(".vectors"), used)) static void (*const es_vectors[16])(void) = {
    (void (*)(void))(uintptr_t)&_es_stack_top, /* initial stack pointer */
    es_reset_handler,                           /* reset */
    es_fault_handler,                           /* NMI */
    es_fault_handler,                           /* hard fault */
    es_fault_handler,                           /* memory management fault */
    es_fault_handler,                           /* bus fault */
    es_fault_handler,                           /* usage fault */
    0, 0, 0, 0,
    es_fault_handler,                           /* SVCall */
    es_fault_handler,                           /* debug monitor */
    0,
    es_fault_handler,                           /* PendSV */
    es_fault_handler,                           /* SysTick */
};
