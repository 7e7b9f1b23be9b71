/*
 * amofork: AMO on a copy-on-write page after fork().
 *
 * A lock word lives alone on its own page. The parent takes the lock (1),
 * then N times: fork(); the child releases the lock with
 *     amoswap.w rd, rd, (addr)      (rd == rs2, holding 0)
 * Right after fork the page is copy-on-write in the child, so the AMO's
 * store faults first and the instruction is re-executed after the kernel
 * copied the page. An emulator that writes rd before the store has
 * succeeded re-executes with rd == 1 (the old value) and stores 1 again:
 * the lock stays taken. The child checks that the word is 0 and that rd
 * received the old value 1. The parent's copy must still read 1.
 *
 * Usage: amofork [N]   (default 200)
 * Prints "amofork: PASS n=<N>" and exits 0, or "amofork: FAIL ..." and 1.
 */
#include <stdio.h>
#include <stdlib.h>
#include <stdint.h>
#include <unistd.h>
#include <sys/mman.h>
#include <sys/wait.h>

static int child(volatile uint32_t *lock)
{
    uint32_t v = 0;
#if defined(__riscv)
    __asm__ volatile("amoswap.w %0, %0, (%1)" : "+r"(v) : "r"(lock) : "memory");
#else
    v = __atomic_exchange_n(lock, v, __ATOMIC_SEQ_CST); /* host build only */
#endif
    uint32_t now = *lock;
    if (now != 0 || v != 1) {
        printf("amofork: FAIL child: lock=%u (want 0) rd=%u (want 1)\n",
               (unsigned)now, (unsigned)v);
        fflush(stdout);
        return 1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    long n = 200;
    if (argc > 1) {
        n = strtol(argv[1], NULL, 0);
        if (n <= 0) {
            fprintf(stderr, "usage: amofork [N>0]\n");
            return 2;
        }
    }
    long pagesz = sysconf(_SC_PAGESIZE);
    if (pagesz <= 0)
        pagesz = 4096;
    /* A private anonymous page of its own: fork makes it copy-on-write. */
    void *page = mmap(NULL, (size_t)pagesz, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED) {
        perror("amofork: FAIL mmap");
        return 1;
    }
    volatile uint32_t *lock = (volatile uint32_t *)page;
    *lock = 1; /* parent takes the lock (and the page is now present) */

    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid < 0) {
            printf("amofork: FAIL fork at iteration %ld\n", i);
            return 1;
        }
        if (pid == 0)
            _exit(child(lock));
        int status;
        if (waitpid(pid, &status, 0) != pid) {
            printf("amofork: FAIL waitpid at iteration %ld\n", i);
            return 1;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            printf("amofork: FAIL iteration %ld: child status 0x%x\n", i, status);
            return 1;
        }
        if (*lock != 1) {
            printf("amofork: FAIL iteration %ld: parent lock=%u (want 1)\n",
                   i, (unsigned)*lock);
            return 1;
        }
    }
    printf("amofork: PASS n=%ld\n", n);
    return 0;
}
