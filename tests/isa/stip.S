# stip.S: supervisor timer interrupt driven by M-mode software. M sets
# mip.STIP; with mideleg.STIP the interrupt goes to S (scause 0x8000_0005),
# S sees it in sip but cannot clear it; without delegation it goes to M;
# a delegated interrupt is never taken while in M.
#include "common.h"

TEST_BEGIN
  la t0, strap_entry
  csrw stvec, t0

  # delegated: taken in S as soon as S enables it
  TEST(2)
  li t0, MIP_STIP
  csrw mideleg, t0
  csrw mie, t0
  csrs mip, t0                        # M-mode may write STIP
  csrr t1, mip
  and t1, t1, t0
  EXPECT_EQ(t1, MIP_STIP)
  MRET_TO(PRV_S, s2)
s2:
  csrr t1, sip                        # visible in sip...
  andi t1, t1, MIP_STIP
  EXPECT_EQ(t1, MIP_STIP)
  TEST(3)
  li t0, MIP_STIP
  csrc sip, t0                        # ...but read-only there
  csrr t1, sip
  andi t1, t1, MIP_STIP
  EXPECT_EQ(t1, MIP_STIP)
  TEST(4)
  EXPECT_TRAP(INTR(IRQ_S_TIMER))
  csrsi sstatus, MSTATUS_SIE
e4:
  nop
  CHECK_TRAPPED(INTR(IRQ_S_TIMER)); CHECK_EPC(e4); CHECK_HANDLED_IN(1)
  csrr t1, sie
  EXPECT_EQ(t1, 0)                    # our S handler masked sie
  csrci sstatus, MSTATUS_SIE
  # back to M, which clears STIP
  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, m4)
m4:
  TEST(5)
  li t0, MIP_STIP
  csrc mip, t0
  MRET_TO(PRV_S, s5)
s5:
  csrr t1, sip
  andi t1, t1, MIP_STIP
  EXPECT_EQ(t1, 0)
  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, m5)
m5:
  # delegated S interrupt pending while in M (MIE = 1, SIE = 1): not taken
  TEST(6)
  li t0, MIP_STIP
  csrw mie, t0
  csrs mip, t0
  csrsi mstatus, MSTATUS_SIE | MSTATUS_MIE
  NO_TRAP_EXPECTED
  nop
  nop
  csrci mstatus, MSTATUS_SIE | MSTATUS_MIE
  li t0, MIP_STIP
  csrc mip, t0

  # not delegated: taken in M from S, even with sstatus.SIE = 0
  TEST(7)
  csrw mideleg, zero
  li t0, MIP_STIP
  csrw mie, t0
  csrs mip, t0
  EXPECT_TRAP_RESUME(INTR(IRQ_S_TIMER), m7, PRV_M)
  MRET_TO(PRV_S, s7)
s7:
1:j 1b
m7:
  CHECK_TRAPPED(INTR(IRQ_S_TIMER)); CHECK_HANDLED_IN(3)
  li t0, MIP_STIP
  csrc mip, t0
  j pass
TEST_END
