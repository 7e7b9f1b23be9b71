/* common.h: harness for semu's own ISA test programs (tests/isa/*.S).
 *
 * One program = one test. It boots in M-mode at _start (0x8000_0000),
 * runs checks numbered with TEST(n), and ends by writing the HTIF word
 * `tohost`: 1 means pass, (n << 1) | 1 means "check n failed".
 * A failure code of 0x400 + n (i.e. n | 1024) means an *unexpected trap*
 * happened during check n; the trap's mcause/mepc/mtval are then in
 * trap_dbg (cause, epc, tval) for a debugger.
 *
 * Trap protocol (M-mode handler `trap_entry`, S-mode handler `strap_entry`):
 *   EXPECT_TRAP(cause)     next trap must have exactly this cause
 *                          (interrupts: cause has bit 31 set).
 *   The handler records it and returns:
 *     s10 = cause seen, s9 = mtval/stval, s8 = mepc/sepc,
 *     s6  = privilege that handled it (3 = M, 1 = S).
 *   Exceptions resume at epc + 4 in the same mode, unless a resume
 *   point was given with EXPECT_TRAP_RESUME(cause, label, priv): then the
 *   handler returns to `label` in privilege `priv` (0 = U, 1 = S, 3 = M;
 *   the S handler can only return to U or S).
 *   Interrupts resume at epc (nothing skipped) and the M handler also
 *   clears mie so a level-triggered source cannot fire again at once.
 *   Any other trap fails the test with 0x400 + n.
 *
 * Registers reserved for the harness (tests must not use them for their
 * own data): gp (check number), t5, t6 (scratch, clobbered by the handlers
 * and the macros), s4, s6, s7, s8, s9, s10, s11.
 */
#ifndef SEMU_ISA_COMMON_H
#define SEMU_ISA_COMMON_H

/* ---- constants ------------------------------------------------------- */
#define MSTATUS_SIE   0x00000002
#define MSTATUS_MIE   0x00000008
#define MSTATUS_SPIE  0x00000020
#define MSTATUS_MPIE  0x00000080
#define MSTATUS_SPP   0x00000100
#define MSTATUS_MPP   0x00001800
#define MSTATUS_MPRV  0x00020000
#define MSTATUS_SUM   0x00040000
#define MSTATUS_MXR   0x00080000
#define MSTATUS_TVM   0x00100000
#define MSTATUS_TW    0x00200000
#define MSTATUS_TSR   0x00400000

#define MIP_SSIP      (1 << 1)
#define MIP_MSIP      (1 << 3)
#define MIP_STIP      (1 << 5)
#define MIP_MTIP      (1 << 7)
#define MIP_SEIP      (1 << 9)
#define MIP_MEIP      (1 << 11)

#define CAUSE_MISALIGNED_FETCH    0
#define CAUSE_FETCH_ACCESS        1
#define CAUSE_ILLEGAL_INSTRUCTION 2
#define CAUSE_BREAKPOINT          3
#define CAUSE_MISALIGNED_LOAD     4
#define CAUSE_LOAD_ACCESS         5
#define CAUSE_MISALIGNED_STORE    6
#define CAUSE_STORE_ACCESS        7
#define CAUSE_USER_ECALL          8
#define CAUSE_SUPERVISOR_ECALL    9
#define CAUSE_MACHINE_ECALL       11
#define CAUSE_FETCH_PAGE_FAULT    12
#define CAUSE_LOAD_PAGE_FAULT     13
#define CAUSE_STORE_PAGE_FAULT    15
#define INTR(n)                   (0x80000000 | (n))
#define IRQ_S_SOFT   1
#define IRQ_M_SOFT   3
#define IRQ_S_TIMER  5
#define IRQ_M_TIMER  7

#define PRV_U 0
#define PRV_S 1
#define PRV_M 3

/* Sv32 */
#define PTE_V 0x001
#define PTE_R 0x002
#define PTE_W 0x004
#define PTE_X 0x008
#define PTE_U 0x010
#define PTE_G 0x020
#define PTE_A 0x040
#define PTE_D 0x080
#define SATP_SV32 0x80000000

/* CLINT (classic SiFive layout, as in machines/bare-metal.toml and QEMU) */
#define CLINT_BASE      0x02000000
#define CLINT_MSIP      (CLINT_BASE + 0x0)
#define CLINT_MTIMECMP  (CLINT_BASE + 0x4000)
#define CLINT_MTIME     (CLINT_BASE + 0xBFF8)

/* ---- check helpers --------------------------------------------------- */
#define TESTNUM gp
#define TEST(n)              li TESTNUM, n
/* fail unless register `reg` == `val` (clobbers t6) */
#define EXPECT_EQ(reg, val)  li t6, val; bne reg, t6, fail
#define EXPECT_NE(reg, val)  li t6, val; beq reg, t6, fail
#define EXPECT_TRAP(cause)   li s10, -1; li s7, 0; li s11, cause
#define EXPECT_TRAP_RESUME(cause, label, priv) \
        li s10, -1; la s7, label; li s4, priv; li s11, cause
#define NO_TRAP_EXPECTED     li s11, -1; li s7, 0
/* fail unless the expected trap happened (cause in s10) */
#define CHECK_TRAPPED(cause) li t6, cause; bne s10, t6, fail
#define CHECK_HANDLED_IN(p)  li t6, p; bne s6, t6, fail
#define CHECK_TVAL(val)      li t6, val; bne s9, t6, fail
#define CHECK_EPC(label)     la t6, label; bne s8, t6, fail

/* Enter S or U mode at `label` from M-mode (clobbers t6). */
#define MRET_TO(priv, label)                     \
        li t6, MSTATUS_MPP; csrc mstatus, t6;    \
        li t6, ((priv) << 11); csrs mstatus, t6; \
        la t6, label; csrw mepc, t6; mret
/* Enter U (priv 0) or S (priv 1) at `label` from S-mode (clobbers t6). */
#define SRET_TO(priv, label)                     \
        li t6, MSTATUS_SPP; csrc sstatus, t6;    \
        li t6, ((priv) << 8); csrs sstatus, t6;  \
        la t6, label; csrw sepc, t6; sret
/* From S or U: go back to M-mode at `label` (through an ecall). */
#define ECALL_TO_M(cause, label)                 \
        EXPECT_TRAP_RESUME(cause, label, PRV_M); ecall

/* ---- program skeleton ------------------------------------------------ */
#define TEST_BEGIN                                                   \
        .section .text.init;                                         \
        .align 6;                                                    \
        .globl _start;                                               \
_start:                                                              \
        j reset;                                                     \
        .align 2;                                                    \
        /* M-mode trap handler (mtvec, direct) */                    \
        .globl trap_entry;                                           \
trap_entry:                                                          \
        csrr t5, mcause;                                             \
        bne t5, s11, unexpected_m;                                   \
        mv s10, t5;                                                  \
        csrr s9, mtval;                                              \
        csrr s8, mepc;                                               \
        li s6, 3;                                                    \
        li s11, -1;                                                  \
        bgez t5, 1f;                                                 \
        csrw mie, zero;        /* interrupt: keep epc, mask all */   \
        j 2f;                                                        \
1:      addi t5, s8, 4;        /* exception: skip the instruction */ \
        csrw mepc, t5;                                               \
2:      beqz s7, 3f;           /* explicit resume point? */          \
        csrw mepc, s7;                                               \
        li s7, 0;                                                    \
        li t5, MSTATUS_MPP;                                          \
        csrc mstatus, t5;                                            \
        slli t5, s4, 11;                                             \
        csrs mstatus, t5;                                            \
3:      mret;                                                        \
unexpected_m:                                                        \
        la t6, trap_dbg;                                             \
        sw t5, 0(t6);                                                \
        csrr t5, mepc;                                               \
        sw t5, 4(t6);                                                \
        csrr t5, mtval;                                              \
        sw t5, 8(t6);                                                \
        j unexpected_trap;                                           \
        .align 2;                                                    \
        /* S-mode trap handler (for stvec) */                        \
        .globl strap_entry;                                          \
strap_entry:                                                         \
        csrr t5, scause;                                             \
        bne t5, s11, unexpected_s;                                   \
        mv s10, t5;                                                  \
        csrr s9, stval;                                              \
        csrr s8, sepc;                                               \
        li s6, 1;                                                    \
        li s11, -1;                                                  \
        bgez t5, 1f;                                                 \
        csrw sie, zero;                                              \
        j 2f;                                                        \
1:      addi t5, s8, 4;                                              \
        csrw sepc, t5;                                               \
2:      beqz s7, 3f;                                                 \
        csrw sepc, s7;                                               \
        li s7, 0;                                                    \
        li t5, MSTATUS_SPP;                                          \
        csrc sstatus, t5;                                            \
        slli t5, s4, 8;                                              \
        csrs sstatus, t5;                                            \
3:      sret;                                                        \
unexpected_s:                                                        \
        la t6, trap_dbg;                                             \
        sw t5, 0(t6);                                                \
        csrr t5, sepc;                                               \
        sw t5, 4(t6);                                                \
        csrr t5, stval;                                              \
        sw t5, 8(t6);                                                \
unexpected_trap:                                                     \
        ori TESTNUM, TESTNUM, 0x400;                                 \
        j fail;                                                      \
reset:                                                               \
        li TESTNUM, 0;                                               \
        /* PMP: allow S/U everything, if PMP exists (traps skip) */  \
        la t0, 1f;                                                   \
        csrw mtvec, t0;                                              \
        li t0, 0x7fffffff;                                           \
        csrw pmpaddr0, t0;                                           \
        li t0, 0x1f;           /* NAPOT | R | W | X */               \
        csrw pmpcfg0, t0;                                            \
        .align 2;                                                    \
1:      la t0, trap_entry;                                           \
        csrw mtvec, t0;                                              \
        csrw satp, zero;                                             \
        csrw medeleg, zero;                                          \
        csrw mideleg, zero;                                          \
        csrw mie, zero;                                              \
        csrw mstatus, zero;                                          \
        li s11, -1;                                                  \
        li s10, -1;                                                  \
        li s7, 0;                                                    \
        j test_main;                                                 \
        .text;                                                       \
test_main:

#define TEST_END                                                     \
pass:   fence;                                                       \
        li t6, 1;                                                    \
        la t5, tohost;                                               \
        sw t6, 0(t5);                                                \
        sw zero, 4(t5);                                              \
1:      j 1b;                                                        \
fail:   fence;                                                       \
        slli t6, TESTNUM, 1;                                         \
        ori t6, t6, 1;                                               \
        la t5, tohost;                                               \
        sw t6, 0(t5);                                                \
        sw zero, 4(t5);                                              \
1:      j 1b;                                                        \
        .pushsection .tohost, "aw", @progbits;                       \
        .align 6; .globl tohost; tohost: .dword 0; .size tohost, 8;  \
        .align 6; .globl fromhost; fromhost: .dword 0;               \
        .size fromhost, 8;                                           \
        .popsection;                                                 \
        .pushsection .data;                                          \
        .align 4; .globl trap_dbg; trap_dbg: .word 0, 0, 0, 0;       \
        .popsection

#endif
