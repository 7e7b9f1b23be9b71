# counters.S: the time CSR (Zicntr) reads the CLINT's mtime; time/timeh
# from S/U are gated by mcounteren.TM / scounteren.TM; cycle and instret
# move forward.
#
# QEMU's spike machine (used to check these tests) does not implement the
# time CSR at all (rdtime is an illegal instruction there), so this program
# fails on QEMU at check 2. See tests/isa/README.md.
#include "common.h"

#define ILLEGAL(insn...) EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION); insn; CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION)

TEST_BEGIN
  li s0, CLINT_MTIME
  # mtime(before) <= time <= mtime(after), high words consistent
  TEST(2)
1:lw a1, 4(s0)
  lw a0, 0(s0)
  csrr a3, timeh
  csrr a2, time
  lw a5, 4(s0)
  lw a4, 0(s0)
  bne a1, a5, 1b                      # a carry happened: try again
  bne a3, a1, fail                    # timeh == mtime high word
  bltu a2, a0, fail
  bltu a4, a2, fail
  # rdtime works from M regardless of mcounteren
  TEST(3)
  csrw mcounteren, zero
  rdtime a0
  rdtimeh a0

  # from S with mcounteren.TM = 0: illegal
  MRET_TO(PRV_S, s4)
s4:
  TEST(4); ILLEGAL(rdtime a0)
  TEST(5); ILLEGAL(rdtimeh a0)
  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, m5)
m5:
  # mcounteren.TM = 1: S may read time, U not while scounteren.TM = 0
  li t0, 2
  csrw mcounteren, t0
  csrw scounteren, zero
  MRET_TO(PRV_S, s6)
s6:
  TEST(6)
  rdtime a0
  rdtimeh a0
  ILLEGAL(rdcycle a0)                 # CY still off
  SRET_TO(PRV_U, u7)
u7:
  TEST(7); ILLEGAL(rdtime a0)
  ECALL_TO_M(CAUSE_USER_ECALL, m7)
m7:
  li t0, 2
  csrw scounteren, t0
  MRET_TO(PRV_U, u8)
u8:
  TEST(8)
  rdtime a0
1:rdtime a1                           # time moves forward, seen from U
  beq a0, a1, 1b
  ECALL_TO_M(CAUSE_USER_ECALL, m8)
m8:
  # mcycle and minstret move forward
  TEST(9)
  csrr a0, mcycle
  csrr a2, minstret
  nop
  nop
  csrr a1, mcycle
  csrr a3, minstret
  beq a0, a1, fail
  beq a2, a3, fail
  j pass
TEST_END
