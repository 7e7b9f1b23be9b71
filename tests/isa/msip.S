# msip.S: machine software interrupts through the CLINT msip register
# (0x0200_0000): msip drives mip.MSIP, which software cannot write; the
# interrupt needs mie.MSIE and, in M-mode, mstatus.MIE; below M it is
# always enabled.
#include "common.h"

TEST_BEGIN
  li s0, CLINT_MSIP

  TEST(2)
  li t0, 1
  sw t0, 0(s0)
  li t1, 1000
1:csrr t0, mip                        # the write may take a moment to show
  andi t0, t0, MIP_MSIP
  bnez t0, 2f
  addi t1, t1, -1
  bnez t1, 1b
  j fail
2:lw t0, 0(s0)
  EXPECT_EQ(t0, 1)

  # mip.MSIP is read-only in mip
  TEST(3)
  csrci mip, MIP_MSIP
  csrr t0, mip
  andi t0, t0, MIP_MSIP
  EXPECT_EQ(t0, MIP_MSIP)

  # enabled locally but MIE = 0 in M: not taken
  TEST(4)
  NO_TRAP_EXPECTED
  csrsi mie, MIP_MSIP
  nop
  nop
  nop

  # MIE = 1: taken at once, mepc = the next instruction
  TEST(5)
  EXPECT_TRAP(INTR(IRQ_M_SOFT))
  csrsi mstatus, MSTATUS_MIE
e5:
  nop
  CHECK_TRAPPED(INTR(IRQ_M_SOFT)); CHECK_EPC(e5); CHECK_HANDLED_IN(3)
  csrr t0, mie
  EXPECT_EQ(t0, 0)                    # our handler masked everything
  csrci mstatus, MSTATUS_MIE

  # clearing msip clears mip.MSIP
  TEST(6)
  sw zero, 0(s0)
  li t1, 1000
1:csrr t0, mip
  andi t0, t0, MIP_MSIP
  beqz t0, 2f
  addi t1, t1, -1
  bnez t1, 1b
  j fail
2:lw t0, 0(s0)
  EXPECT_EQ(t0, 0)

  # from U-mode the interrupt is taken even though mstatus.MIE = 0
  TEST(7)
  csrsi mie, MIP_MSIP
  MRET_TO(PRV_U, u7)
u7:
  EXPECT_TRAP_RESUME(INTR(IRQ_M_SOFT), m7, PRV_M)
  li t0, 1
  sw t0, 0(s0)
1:j 1b                                # wait for it
m7:
  CHECK_TRAPPED(INTR(IRQ_M_SOFT)); CHECK_HANDLED_IN(3)
  la t0, 1b
  bne s8, t0, 3f                      # epc: the loop, or the store before it
  j 4f
3:addi t0, t0, -4
  bne s8, t0, fail
4:sw zero, 0(s0)

  # the same from S-mode
  TEST(8)
  csrsi mie, MIP_MSIP
  MRET_TO(PRV_S, s8l)
s8l:
  EXPECT_TRAP_RESUME(INTR(IRQ_M_SOFT), m8, PRV_M)
  li t0, 1
  sw t0, 0(s0)
1:j 1b
m8:
  CHECK_TRAPPED(INTR(IRQ_M_SOFT)); CHECK_HANDLED_IN(3)
  sw zero, 0(s0)

  j pass
TEST_END
