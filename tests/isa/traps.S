# traps.S: synchronous traps and delegation. ecall from U/S/M gives cause
# 8/9/11 with mepc = the ecall; ebreak and illegal instructions; the
# mstatus/sstatus stack on trap entry (xPP, xPIE, xIE) and on mret/sret;
# medeleg routes exceptions from U/S to S-mode, never from M.
#include "common.h"

TEST_BEGIN
  # probe handlers: snapshot the status register at trap entry into s3
  la t0, mprobe
  csrw mtvec, t0
  la t0, sprobe
  csrw stvec, t0

  TEST(2)
  EXPECT_TRAP(CAUSE_MACHINE_ECALL)
e2: ecall
  CHECK_TRAPPED(CAUSE_MACHINE_ECALL); CHECK_EPC(e2); CHECK_HANDLED_IN(3)
  li t0, MSTATUS_MPP
  and t0, s3, t0
  EXPECT_EQ(t0, MSTATUS_MPP)           # MPP = M

  TEST(3)
  EXPECT_TRAP(CAUSE_BREAKPOINT)
e3: ebreak
  CHECK_TRAPPED(CAUSE_BREAKPOINT); CHECK_EPC(e3)

  TEST(4)
  EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION)
e4: .word 0xffffffff
  CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION); CHECK_EPC(e4)
  beqz s9, 1f                          # mtval: 0 or the instruction bits
  EXPECT_EQ(s9, 0xffffffff)
1:
  TEST(5)
  EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION)
e5: .word 0x00000000                   # all-zero is defined illegal
  CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION); CHECK_EPC(e5)
  EXPECT_EQ(s9, 0)
  # ebreak/ecall leave the registers alone
  TEST(6)
  li a0, 0x1234
  EXPECT_TRAP(CAUSE_BREAKPOINT)
  ebreak
  EXPECT_EQ(a0, 0x1234)
  # mstatus stack on trap entry from M and on mret: MIE=1 before the trap
  TEST(7)
  csrs mstatus, MSTATUS_MIE            # mie = 0, so nothing can fire
  EXPECT_TRAP(CAUSE_MACHINE_ECALL)
  ecall
  li t0, MSTATUS_MIE | MSTATUS_MPIE
  and t1, s3, t0
  EXPECT_EQ(t1, MSTATUS_MPIE)          # at entry: MPIE = old MIE = 1, MIE = 0
  csrr t1, mstatus
  and t2, t1, t0
  EXPECT_EQ(t2, MSTATUS_MIE | MSTATUS_MPIE)  # after mret: MIE = MPIE, MPIE = 1
  li t0, MSTATUS_MPP
  and t2, t1, t0
  EXPECT_EQ(t2, 0)                     # after mret: MPP = U (least privileged)
  csrc mstatus, MSTATUS_MIE

  # ecall from S: cause 9, MPP = S, MPIE = MIE at the time (1 here)
  TEST(8)
  li t0, MSTATUS_MPIE
  csrs mstatus, t0
  MRET_TO(PRV_S, s8)
s8:
  EXPECT_TRAP_RESUME(CAUSE_SUPERVISOR_ECALL, m8, PRV_M)
e8: ecall
  j fail
m8:
  CHECK_TRAPPED(CAUSE_SUPERVISOR_ECALL); CHECK_EPC(e8); CHECK_HANDLED_IN(3)
  li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
  and t1, s3, t0
  EXPECT_EQ(t1, (PRV_S << 11) | MSTATUS_MPIE)

  # mret really restores MIE from MPIE: MIE=1, MPIE=0 before mret to S,
  # so in S MIE = 0, and the ecall from S then saves MPIE = 0.
  TEST(9)
  csrs mstatus, MSTATUS_MIE
  li t0, MSTATUS_MPIE
  csrc mstatus, t0
  MRET_TO(PRV_S, s9)
s9:
  EXPECT_TRAP_RESUME(CAUSE_SUPERVISOR_ECALL, m9, PRV_M)
  ecall
  j fail
m9:
  CHECK_TRAPPED(CAUSE_SUPERVISOR_ECALL)
  li t0, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE
  and t1, s3, t0
  EXPECT_EQ(t1, (PRV_S << 11))

  # ecall from U: cause 8, MPP = U
  TEST(10)
  MRET_TO(PRV_U, u10)
u10:
  EXPECT_TRAP_RESUME(CAUSE_USER_ECALL, m10, PRV_M)
e10:
  ecall
  j fail
m10:
  CHECK_TRAPPED(CAUSE_USER_ECALL); CHECK_EPC(e10); CHECK_HANDLED_IN(3)
  li t0, MSTATUS_MPP
  and t1, s3, t0
  EXPECT_EQ(t1, 0)

  # medeleg: ecall from U goes to S; sstatus stack: SPP = U, SPIE = SIE
  TEST(11)
  li t0, (1 << CAUSE_USER_ECALL) | (1 << CAUSE_ILLEGAL_INSTRUCTION) | (1 << CAUSE_BREAKPOINT)
  csrw medeleg, t0
  MRET_TO(PRV_S, s11)
s11:
  csrs sstatus, MSTATUS_SIE            # sie = 0: nothing can fire
  SRET_TO(PRV_U, u11)                  # sret: SIE <- SPIE (0)
u11:
  EXPECT_TRAP_RESUME(CAUSE_USER_ECALL, s11b, PRV_S)
e11:
  ecall
  j fail
s11b:
  CHECK_TRAPPED(CAUSE_USER_ECALL); CHECK_EPC(e11); CHECK_HANDLED_IN(1)
  li t0, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
  and t1, s3, t0
  EXPECT_EQ(t1, 0)                     # SPP = U, SPIE = old SIE = 0
  # delegated illegal instruction and breakpoint from U also go to S
  TEST(12)
  SRET_TO(PRV_U, u12)
u12:
  EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION)
  csrr a0, sstatus                     # U may not touch sstatus
  CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION); CHECK_HANDLED_IN(1)
  EXPECT_TRAP(CAUSE_BREAKPOINT)
  ebreak
  CHECK_TRAPPED(CAUSE_BREAKPOINT); CHECK_HANDLED_IN(1)
  EXPECT_TRAP_RESUME(CAUSE_USER_ECALL, s12, PRV_S)
  ecall
  j fail
s12:
  # S-mode traps delegated too: illegal instruction from S goes to S,
  # with SPP = S and SPIE = SIE (1 here)
  TEST(13)
  csrs sstatus, MSTATUS_SIE
  EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION)
e13:
  csrr a0, mstatus
  CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION); CHECK_EPC(e13); CHECK_HANDLED_IN(1)
  li t0, MSTATUS_SPP | MSTATUS_SPIE | MSTATUS_SIE
  and t1, s3, t0
  EXPECT_EQ(t1, MSTATUS_SPP | MSTATUS_SPIE)
  csrr t1, sstatus                     # after sret: SIE = SPIE = 1, SPIE = 1, SPP = U
  and t1, t1, t0
  EXPECT_EQ(t1, MSTATUS_SPIE | MSTATUS_SIE)
  csrc sstatus, MSTATUS_SIE
  # not delegated (ecall from S): goes to M
  TEST(14)
  EXPECT_TRAP_RESUME(CAUSE_SUPERVISOR_ECALL, m14, PRV_M)
  ecall
  j fail
m14:
  CHECK_TRAPPED(CAUSE_SUPERVISOR_ECALL); CHECK_HANDLED_IN(3)

  # a trap taken in M is never delegated, even if its medeleg bit is set
  TEST(15)
  EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION)
  .word 0
  CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION); CHECK_HANDLED_IN(3)
  EXPECT_TRAP(CAUSE_BREAKPOINT)
  ebreak
  CHECK_TRAPPED(CAUSE_BREAKPOINT); CHECK_HANDLED_IN(3)

  # sret from S with SPP = S stays in S and sets SPP to U
  TEST(16)
  csrw medeleg, zero
  MRET_TO(PRV_S, s16)
s16:
  li t0, MSTATUS_SPP
  csrs sstatus, t0
  la t0, s16b
  csrw sepc, t0
  sret
  j fail
s16b:
  csrr t1, sstatus                     # reading sstatus works: still in S
  andi t1, t1, MSTATUS_SPP
  EXPECT_EQ(t1, 0)
  # sret from U is illegal, mret from S is illegal
  TEST(17)
  EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION)
  mret
  CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION); CHECK_HANDLED_IN(3)
  SRET_TO(PRV_U, u17)
u17:
  TEST(18)
  EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION)
  sret
  CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION)
  ECALL_TO_M(CAUSE_USER_ECALL, done)
done:
  j pass

  .align 2
mprobe:
  csrr s3, mstatus
  j trap_entry
  .align 2
sprobe:
  csrr s3, sstatus
  j strap_entry
TEST_END
