/*
 * bench: fixed CPU-bound workload for timing the emulator against the host.
 *
 * Kernels: integer sieve of Eratosthenes, table-driven CRC-32 of a buffer,
 * integer matrix multiply, qsort of pseudo-random ints. Each prints its time
 * (CLOCK_MONOTONIC) and a checksum; the checksums depend only on the workload,
 * so the guest build (`bench`, riscv32) and the host build (`bench-host`)
 * must print identical checksums. Built from the same source for both.
 *
 * Usage: bench [REPEAT]   (default 1: each kernel runs REPEAT times)
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SIEVE_N   4000000u      /* primes below this */
#define SIEVE_ROUNDS 4u
#define CRC_BYTES (1u << 20)    /* buffer size */
#define CRC_ROUNDS 32u          /* passes over the buffer */
#define MAT_N     160u          /* N x N matrices */
#define MAT_ROUNDS 40u          /* C = A*B, then A = C (masked), repeated */
#define SORT_N    600000u       /* ints to sort */

static uint32_t rng_state;
static uint32_t rng(void)
{
    /* xorshift32 */
    uint32_t x = rng_state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    return rng_state = x;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint32_t k_sieve(void)
{
    uint8_t *composite = calloc(SIEVE_N, 1);
    if (!composite) { perror("calloc"); exit(1); }
    uint32_t acc = 0;
    for (uint32_t r = 0; r < SIEVE_ROUNDS; r++) {
        uint32_t count = 0, sum = 0;
        memset(composite, 0, SIEVE_N);
        for (uint32_t i = 2; i < SIEVE_N - r; i++) {
            if (composite[i])
                continue;
            count++;
            sum += i;
            for (uint32_t j = i + i; j < SIEVE_N - r; j += i)
                composite[j] = 1;
        }
        acc = acc * 31u + (count ^ (sum * 2654435761u));
    }
    free(composite);
    return acc;
}

static uint32_t crc_table[256];

static uint32_t k_crc32(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
        crc_table[i] = c;
    }
    uint8_t *buf = malloc(CRC_BYTES);
    if (!buf) { perror("malloc"); exit(1); }
    rng_state = 0x12345678u;
    for (uint32_t i = 0; i < CRC_BYTES; i++)
        buf[i] = (uint8_t)(rng() >> 24);
    uint32_t acc = 0;
    for (uint32_t r = 0; r < CRC_ROUNDS; r++) {
        uint32_t c = 0xFFFFFFFFu;
        for (uint32_t i = 0; i < CRC_BYTES; i++)
            c = crc_table[(c ^ buf[i]) & 0xFF] ^ (c >> 8);
        c ^= 0xFFFFFFFFu;
        acc = acc * 31u + c;
        buf[r] ^= (uint8_t)c; /* vary the input between passes */
    }
    free(buf);
    return acc;
}

static uint32_t k_matmul(void)
{
    uint32_t *a = malloc(sizeof(uint32_t) * MAT_N * MAT_N);
    uint32_t *b = malloc(sizeof(uint32_t) * MAT_N * MAT_N);
    uint32_t *c = malloc(sizeof(uint32_t) * MAT_N * MAT_N);
    if (!a || !b || !c) { perror("malloc"); exit(1); }
    rng_state = 0xC0FFEE01u;
    for (uint32_t i = 0; i < MAT_N * MAT_N; i++) {
        a[i] = rng() & 0xFFFF;
        b[i] = rng() & 0xFFFF;
    }
    uint32_t acc = 0;
    for (uint32_t r = 0; r < MAT_ROUNDS; r++) {
        for (uint32_t i = 0; i < MAT_N; i++) {
            uint32_t *crow = &c[i * MAT_N];
            for (uint32_t j = 0; j < MAT_N; j++)
                crow[j] = 0;
            for (uint32_t k = 0; k < MAT_N; k++) {
                uint32_t aik = a[i * MAT_N + k];
                const uint32_t *brow = &b[k * MAT_N];
                for (uint32_t j = 0; j < MAT_N; j++)
                    crow[j] += aik * brow[j];
            }
        }
        for (uint32_t i = 0; i < MAT_N * MAT_N; i++) {
            acc = (acc ^ c[i]) * 16777619u;
            a[i] = c[i] & 0xFFFF;
        }
    }
    free(a);
    free(b);
    free(c);
    return acc;
}

static int cmp_int(const void *pa, const void *pb)
{
    int32_t a = *(const int32_t *)pa, b = *(const int32_t *)pb;
    return (a > b) - (a < b);
}

static uint32_t k_qsort(void)
{
    int32_t *v = malloc(sizeof(int32_t) * SORT_N);
    if (!v) { perror("malloc"); exit(1); }
    rng_state = 0xDEADBEEFu;
    for (uint32_t i = 0; i < SORT_N; i++)
        v[i] = (int32_t)rng();
    qsort(v, SORT_N, sizeof(int32_t), cmp_int);
    uint32_t acc = 0;
    for (uint32_t i = 1; i < SORT_N; i++)
        if (v[i - 1] > v[i]) {
            printf("bench: qsort produced unsorted output\n");
            exit(1);
        }
    for (uint32_t i = 0; i < SORT_N; i += 97)
        acc = acc * 33u + (uint32_t)v[i];
    free(v);
    return acc;
}

struct kernel {
    const char *name;
    uint32_t (*fn)(void);
};

int main(int argc, char **argv)
{
    static const struct kernel kernels[] = {
        {"sieve", k_sieve},
        {"crc32", k_crc32},
        {"matmul", k_matmul},
        {"qsort", k_qsort},
    };
    long repeat = 1;
    if (argc > 1) {
        repeat = strtol(argv[1], NULL, 0);
        if (repeat <= 0) {
            fprintf(stderr, "usage: bench [REPEAT>0]\n");
            return 2;
        }
    }
    double total = 0;
    uint32_t all = 0;
    for (size_t k = 0; k < sizeof(kernels) / sizeof(kernels[0]); k++) {
        double t0 = now_ms();
        uint32_t sum = 0;
        for (long r = 0; r < repeat; r++)
            sum = kernels[k].fn();
        double ms = now_ms() - t0;
        total += ms;
        all = all * 0x01000193u ^ sum;
        printf("bench: %-6s %9.1f ms  checksum %08x\n", kernels[k].name, ms,
               (unsigned)sum);
        fflush(stdout);
    }
    printf("bench: total  %9.1f ms  checksum %08x\n", total, (unsigned)all);
    return 0;
}
