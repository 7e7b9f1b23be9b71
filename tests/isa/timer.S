# timer.S: CLINT machine timer. mtime counts up; mip.MTIP = (mtime >=
# mtimecmp) and is read-only in mip; wfi wakes up on a pending, locally
# enabled interrupt even with mstatus.MIE = 0; with MIE = 1 the interrupt
# (cause 0x8000_0007) is taken; raising mtimecmp clears MTIP.
#include "common.h"

# a0:a1 = mtime (lo:hi), read consistently across a carry
#define READ_MTIME                     \
  li t2, CLINT_MTIME;                  \
9:lw a1, 4(t2);                        \
  lw a0, 0(t2);                        \
  lw t1, 4(t2);                        \
  bne a1, t1, 9b
# mtimecmp = a0:a1 without a spurious intermediate value
#define WRITE_MTIMECMP                 \
  li t2, CLINT_MTIMECMP;               \
  li t1, -1;                           \
  sw t1, 4(t2);                        \
  sw a0, 0(t2);                        \
  sw a1, 4(t2)
#define MTIP_IS(val)                   \
  csrr t0, mip; andi t0, t0, MIP_MTIP; EXPECT_EQ(t0, val)

TEST_BEGIN
  # mtimecmp = max: no timer interrupt pending
  TEST(2)
  li a0, -1
  li a1, -1
  WRITE_MTIMECMP
  MTIP_IS(0)

  # mtime moves forward
  TEST(3)
  READ_MTIME
  mv s0, a0
  mv s1, a1
  li t0, 2000
1:addi t0, t0, -1
  bnez t0, 1b
  READ_MTIME
  bne a1, s1, 2f                      # high word changed: it moved
  bleu a0, s0, fail
2:
  # mtimecmp a little in the future; wfi wakes up when it fires
  TEST(4)
  READ_MTIME
  addi t0, a0, 500
  sltu t1, t0, a0
  add a1, a1, t1
  mv a0, t0
  WRITE_MTIMECMP
  li t0, MIP_MTIP
  csrs mie, t0                        # locally enabled, MIE = 0
  NO_TRAP_EXPECTED
1:wfi
  csrr t0, mip
  andi t0, t0, MIP_MTIP
  beqz t0, 1b
  MTIP_IS(MIP_MTIP)

  # mip.MTIP is read-only
  TEST(5)
  li t0, MIP_MTIP
  csrc mip, t0
  MTIP_IS(MIP_MTIP)

  # MIE = 1: the pending interrupt is taken at once
  TEST(6)
  EXPECT_TRAP(INTR(IRQ_M_TIMER))
  csrsi mstatus, MSTATUS_MIE
e6:
  nop
  CHECK_TRAPPED(INTR(IRQ_M_TIMER)); CHECK_EPC(e6); CHECK_HANDLED_IN(3)
  csrci mstatus, MSTATUS_MIE

  # raising mtimecmp clears MTIP
  TEST(7)
  li a0, -1
  li a1, -1
  WRITE_MTIMECMP
  MTIP_IS(0)

  # mtimecmp = 0 (in the past): pending at once
  TEST(8)
  li a0, 0
  li a1, 0
  WRITE_MTIMECMP
  MTIP_IS(MIP_MTIP)

  # taken from U-mode with mstatus.MIE = 0; mcause has the interrupt bit
  TEST(9)
  li t0, MIP_MTIP
  csrw mie, t0
  # (pending already: it fires on the first U instruction, so arm first)
  EXPECT_TRAP_RESUME(INTR(IRQ_M_TIMER), m9, PRV_M)
  MRET_TO(PRV_U, u9)
u9:
1:j 1b
m9:
  CHECK_TRAPPED(INTR(IRQ_M_TIMER)); CHECK_HANDLED_IN(3)

  # a timer interrupt that wfi waits for, taken with MIE = 1
  TEST(10)
  READ_MTIME
  li t0, 100000                       # far enough ahead that MTIP is still clear below
  add t0, a0, t0
  sltu t1, t0, a0
  add a1, a1, t1
  mv a0, t0
  WRITE_MTIMECMP
  MTIP_IS(0)
  li t0, MIP_MTIP
  csrw mie, t0
  EXPECT_TRAP(INTR(IRQ_M_TIMER))
  csrsi mstatus, MSTATUS_MIE
1:wfi
  li t0, -1
  bne s10, t0, 2f                     # taken?
  j 1b
2:CHECK_TRAPPED(INTR(IRQ_M_TIMER))
  csrci mstatus, MSTATUS_MIE
  li a0, -1
  li a1, -1
  WRITE_MTIMECMP
  MTIP_IS(0)

  j pass
TEST_END
