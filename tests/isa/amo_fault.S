# amo_fault.S: AMOs are precise under Sv32. An AMO with rd == rs2 on a
# read-only page raises a store/AMO page fault (cause 15, tval = address)
# and changes neither rd nor memory; after the page is made writable (and
# sfence.vma) the retried AMO returns the old value and stores the result.
# An AMO sets A and D. The same fault delegated to S reports scause/stval.
#include "common.h"

#define PTE_OF(pa_reg, flags)  srli pa_reg, pa_reg, 12; slli pa_reg, pa_reg, 10; ori pa_reg, pa_reg, flags
#define SET_L0(idx)     la t0, l0; sw t1, (idx) * 4(t0)

TEST_BEGIN
  # identity 4 MiB superpage over the program, RWX
  la t0, root
  li t1, ((0x80000000 >> 12) << 10) | PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D
  li t2, 0x200 * 4
  add t2, t0, t2
  sw t1, 0(t2)
  la t1, l0
  PTE_OF(t1, PTE_V)
  li t2, 0x100 * 4
  add t2, t0, t2
  sw t1, 0(t2)
  la t1, page_a; PTE_OF(t1, PTE_V | PTE_R | PTE_A);  SET_L0(0)   # read-only
  la t1, page_b; PTE_OF(t1, PTE_V | PTE_R | PTE_W);  SET_L0(1)   # RW, A = D = 0
  la t1, page_c; PTE_OF(t1, PTE_V | PTE_R | PTE_A);  SET_L0(2)   # read-only
  la t0, root
  srli t0, t0, 12
  li t1, SATP_SV32
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  MRET_TO(PRV_S, s_main)
s_main:
  li s0, 0x40000000
  TEST(2)
  li a0, 5
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  amoadd.w a0, a0, (s0)                  # rd == rs2
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT); CHECK_TVAL(0x40000000); CHECK_HANDLED_IN(3)
  EXPECT_EQ(a0, 5)                       # rd untouched
  lw a1, 0(s0)
  EXPECT_EQ(a1, 100)                     # memory untouched
  TEST(3)
  li a0, 7
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  amoswap.w a0, a0, (s0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT)
  EXPECT_EQ(a0, 7)
  lw a1, 0(s0)
  EXPECT_EQ(a1, 100)
  TEST(4)
  li a0, 0x10
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  addi a3, s0, 4
  li a2, 0
  amomaxu.w a2, a0, (a3)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT)
  EXPECT_EQ(a2, 0)

  # make the page writable, flush, retry
  TEST(5)
  la t1, page_a; PTE_OF(t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D); SET_L0(0)
  sfence.vma
  li a0, 5
  amoadd.w a0, a0, (s0)
  EXPECT_EQ(a0, 100)                     # old value
  lw a1, 0(s0)
  EXPECT_EQ(a1, 105)
  li a0, 7
  amoswap.w a0, a0, (s0)
  EXPECT_EQ(a0, 105)
  lw a1, 0(s0)
  EXPECT_EQ(a1, 7)

  # an AMO sets A and D
  TEST(6)
  li s1, 0x40001000
  li a0, 3
  amoadd.w a0, a0, (s1)
  EXPECT_EQ(a0, 200)
  lw a1, 0(s1)
  EXPECT_EQ(a1, 203)
  la t0, l0
  lw t1, 4(t0)
  andi t1, t1, PTE_A | PTE_D
  EXPECT_EQ(t1, PTE_A | PTE_D)

  # delegated to S: scause / stval
  TEST(7)
  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, m7)
m7:
  li t0, (1 << CAUSE_STORE_PAGE_FAULT) | (1 << CAUSE_LOAD_PAGE_FAULT)
  csrw medeleg, t0
  la t0, strap_entry
  csrw stvec, t0
  MRET_TO(PRV_S, s7)
s7:
  li s2, 0x40002004
  li a0, 9
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  amoor.w a0, a0, (s2)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT); CHECK_TVAL(0x40002004); CHECK_HANDLED_IN(1)
  EXPECT_EQ(a0, 9)
  lw a1, 0(s2)
  EXPECT_EQ(a1, 301)
  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, done)
done:
  csrw satp, zero
  sfence.vma
  j pass
TEST_END

  .data
  .align 12
root:   .skip 4096
l0:     .skip 4096
page_a: .word 100, 0
  .align 12
page_b: .word 200
  .align 12
page_c: .word 300, 301
  .align 12
