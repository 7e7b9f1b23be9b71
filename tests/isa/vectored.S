# vectored.S: mtvec/stvec in vectored mode (MODE = 1). Exceptions go to
# BASE, interrupt cause n goes to BASE + 4*n, for M (software, timer) and
# for a delegated S-mode software interrupt.
#include "common.h"

TEST_BEGIN
  # each slot records its index in s5, then joins the normal handler
  la t0, mvec
  ori t0, t0, 1
  csrw mtvec, t0
  csrr t1, mtvec
  TEST(2)
  bne t0, t1, fail                    # vectored mode is supported

  TEST(3)
  li s5, -1
  EXPECT_TRAP(CAUSE_MACHINE_ECALL)
  ecall
  CHECK_TRAPPED(CAUSE_MACHINE_ECALL)
  EXPECT_EQ(s5, 0)                    # exceptions use BASE

  TEST(4)
  li s5, -1
  li s0, CLINT_MSIP
  li t0, 1
  sw t0, 0(s0)
  csrsi mie, MIP_MSIP
  EXPECT_TRAP(INTR(IRQ_M_SOFT))
  csrsi mstatus, MSTATUS_MIE
1:li t0, -1                           # wait until taken
  beq s10, t0, 1b
  csrci mstatus, MSTATUS_MIE
  sw zero, 0(s0)
  CHECK_TRAPPED(INTR(IRQ_M_SOFT))
  EXPECT_EQ(s5, 3)

  TEST(5)
  li s5, -1
  li s0, CLINT_MTIMECMP
  li t0, -1
  sw t0, 4(s0)
  sw zero, 0(s0)
  sw zero, 4(s0)                      # mtimecmp = 0: pending
  li t0, MIP_MTIP
  csrs mie, t0
  EXPECT_TRAP(INTR(IRQ_M_TIMER))
  csrsi mstatus, MSTATUS_MIE
1:li t0, -1
  beq s10, t0, 1b
  csrci mstatus, MSTATUS_MIE
  li t0, -1
  sw t0, 4(s0)
  sw t0, 0(s0)
  CHECK_TRAPPED(INTR(IRQ_M_TIMER))
  EXPECT_EQ(s5, 7)

  # S-mode: delegated SSIP through a vectored stvec
  TEST(6)
  li s5, -1
  la t0, svec
  ori t0, t0, 1
  csrw stvec, t0
  csrr t1, stvec
  bne t0, t1, fail
  csrwi mideleg, MIP_SSIP
  csrwi mie, MIP_SSIP
  MRET_TO(PRV_S, s6)
s6:
  EXPECT_TRAP(INTR(IRQ_S_SOFT))
  csrsi sip, MIP_SSIP                 # S may raise its own software interrupt
  csrsi sstatus, MSTATUS_SIE
1:li t0, -1
  beq s10, t0, 1b
  csrci sstatus, MSTATUS_SIE
  csrci sip, MIP_SSIP
  CHECK_TRAPPED(INTR(IRQ_S_SOFT)); CHECK_HANDLED_IN(1)
  EXPECT_EQ(s5, 0x101)
  # S exceptions (not delegated here) still go to M's BASE
  TEST(7)
  li s5, -1
  EXPECT_TRAP_RESUME(CAUSE_SUPERVISOR_ECALL, m7, PRV_M)
  ecall
  j fail
m7:
  CHECK_TRAPPED(CAUSE_SUPERVISOR_ECALL)
  EXPECT_EQ(s5, 0)
  j pass

  .align 8
mvec:
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  j mslot\n
  .endr
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
mslot\n: li s5, \n
  j trap_entry
  .endr
  .align 8
svec:
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
  j sslot\n
  .endr
  .irp n, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15
sslot\n: li s5, 0x100 + \n
  j strap_entry
  .endr
TEST_END
