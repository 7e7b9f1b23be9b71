# csr.S: CSR access rules. Read-only CSRs trap on write but not on a
# csrrs/csrrc with x0 (or csrrsi/csrrci with 0); unknown CSRs trap; M-mode
# CSRs trap from S, S-mode CSRs trap from U; counters are gated by
# mcounteren/scounteren; sstatus and sie are restricted views of mstatus and
# mie; misa reads RV32 "IMA" + S + U.
#include "common.h"

#define ILLEGAL(insn...) EXPECT_TRAP(CAUSE_ILLEGAL_INSTRUCTION); insn; CHECK_TRAPPED(CAUSE_ILLEGAL_INSTRUCTION)
#define LEGAL(insn...) NO_TRAP_EXPECTED; insn

TEST_BEGIN
  # misa: MXL = 1 (RV32), extensions A, I, M, S, U and nothing else
  TEST(2); csrr a0, misa; EXPECT_EQ(a0, 0x40141101)

  # read-only CSRs: a write traps, a read-only access form does not
  TEST(3); ILLEGAL(csrw mvendorid, zero)
  TEST(4); ILLEGAL(csrrw a0, mhartid, zero)
  TEST(5); LEGAL(csrrs a0, mvendorid, x0)
  TEST(6); LEGAL(csrrc a0, marchid, x0)
  TEST(7); LEGAL(csrrsi a0, mhartid, 0); EXPECT_EQ(a0, 0)
  TEST(8); LEGAL(csrrci a0, mimpid, 0)
  TEST(9); ILLEGAL(csrrwi x0, cycle, 0)           # csrrw writes even with rd = x0
  TEST(10); li a1, 1; ILLEGAL(csrrs x0, cycle, a1) # set with a non-zero register writes
  TEST(11); ILLEGAL(csrrci a0, instret, 1)
  TEST(12); LEGAL(csrr a0, cycle)
  TEST(13); LEGAL(csrr a0, instret)
  TEST(14); LEGAL(csrr a0, cycleh)
  TEST(15); LEGAL(csrr a0, instreth)
  # CSR that does not exist here (hstatus: no H extension)
  TEST(16); ILLEGAL(csrr a0, 0x600)

  # csrrs/csrrc with x0 leave the CSR alone; the value read is the old one
  TEST(17)
  li a0, 0x1234
  csrw mscratch, a0
  csrrs a1, mscratch, x0
  csrrc a2, mscratch, x0
  csrrsi a3, mscratch, 0
  csrr a4, mscratch
  EXPECT_EQ(a1, 0x1234)
  EXPECT_EQ(a2, 0x1234)
  EXPECT_EQ(a3, 0x1234)
  EXPECT_EQ(a4, 0x1234)
  TEST(18)
  li a0, 0xff00
  csrrw a1, mscratch, a0;  EXPECT_EQ(a1, 0x1234)
  csrrsi a1, mscratch, 0x1f; EXPECT_EQ(a1, 0xff00)
  csrrci a1, mscratch, 0x3; EXPECT_EQ(a1, 0xff1f)
  li a0, 0xf000
  csrrc a1, mscratch, a0;  EXPECT_EQ(a1, 0xff1c)
  csrr a1, mscratch;       EXPECT_EQ(a1, 0x0f1c)

  # mstatus / sstatus views
  TEST(19)
  li a0, (1 << 11) | MSTATUS_MPIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR | MSTATUS_SIE
  csrw mstatus, a0
  csrr a1, sstatus
  li a2, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_MIE | MSTATUS_TVM | MSTATUS_TW | MSTATUS_TSR | MSTATUS_MPRV
  and a3, a1, a2
  EXPECT_EQ(a3, 0)                       # M-only fields are invisible in sstatus
  li a2, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
  and a3, a1, a2
  EXPECT_EQ(a3, MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR)
  TEST(20)
  csrw sstatus, zero                     # clears the S fields only
  csrr a1, mstatus
  li a2, MSTATUS_MPP | MSTATUS_MPIE | MSTATUS_SIE | MSTATUS_SPIE | MSTATUS_SPP | MSTATUS_SUM | MSTATUS_MXR
  and a3, a1, a2
  EXPECT_EQ(a3, (1 << 11) | MSTATUS_MPIE)
  TEST(21)
  csrs sstatus, MSTATUS_MIE              # sstatus cannot reach MIE
  csrr a1, mstatus
  andi a1, a1, MSTATUS_MIE
  EXPECT_EQ(a1, 0)
  TEST(22)
  li a0, 0x80000000                      # SD is read-only (no FS/XS/VS dirty)
  csrw mstatus, a0
  csrr a1, mstatus
  EXPECT_EQ(a1, 0)

  # sie is mie restricted to the delegated interrupts
  TEST(23)
  li a0, MIP_SSIP | MIP_STIP | MIP_SEIP
  csrw mideleg, a0
  csrr a1, mideleg;  EXPECT_EQ(a1, MIP_SSIP | MIP_STIP | MIP_SEIP)
  li a0, 0xaaa
  csrw mie, a0
  csrr a1, sie;      EXPECT_EQ(a1, 0x222)
  csrw sie, zero
  csrr a1, mie;      EXPECT_EQ(a1, 0x888)  # M bits untouched by sie writes
  TEST(24)
  csrw mideleg, zero
  li a0, 0x222
  csrw mie, a0
  csrr a1, sie;      EXPECT_EQ(a1, 0)      # not delegated -> read-only zero
  csrw mie, zero

  # privilege: from S, M-mode CSRs are illegal, S-mode ones are fine
  csrw mcounteren, zero
  csrw scounteren, zero
  MRET_TO(PRV_S, in_s)
in_s:
  TEST(25); ILLEGAL(csrr a0, mstatus)
  TEST(26); ILLEGAL(csrw mscratch, zero)
  TEST(27); ILLEGAL(csrr a0, mvendorid)
  TEST(28); ILLEGAL(csrr a0, mepc)
  TEST(29); LEGAL(csrw sscratch, zero); LEGAL(csrr a0, sstatus); LEGAL(csrr a0, satp)
  # counters with mcounteren = 0: illegal in S
  TEST(30); ILLEGAL(csrr a0, cycle)
  TEST(31); ILLEGAL(csrr a0, instret)
  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, back1)
back1:
  TEST(32); CHECK_TRAPPED(CAUSE_SUPERVISOR_ECALL)

  # mcounteren = CY | IR: S may read, U still may not (scounteren = 0)
  li a0, 0x5
  csrw mcounteren, a0
  MRET_TO(PRV_S, in_s2)
in_s2:
  TEST(33); LEGAL(csrr a0, cycle); LEGAL(csrr a0, instret); LEGAL(csrr a0, cycleh)
  SRET_TO(PRV_U, in_u)
in_u:
  TEST(34); ILLEGAL(csrr a0, cycle)
  TEST(35); ILLEGAL(csrr a0, instreth)
  # from U, S-mode CSRs are illegal too
  TEST(36); ILLEGAL(csrr a0, sstatus)
  TEST(37); ILLEGAL(csrw sscratch, zero)
  TEST(38); ILLEGAL(csrr a0, mstatus)
  ECALL_TO_M(CAUSE_USER_ECALL, back2)
back2:
  TEST(39); CHECK_TRAPPED(CAUSE_USER_ECALL)

  # scounteren = CY | IR too: U may read them
  li a0, 0x5
  csrw scounteren, a0
  MRET_TO(PRV_U, in_u2)
in_u2:
  TEST(40); LEGAL(csrr a0, cycle); LEGAL(csrr a0, instret); LEGAL(csrr a0, instreth)
  TEST(41); ILLEGAL(csrw cycle, zero)     # still read-only
  ECALL_TO_M(CAUSE_USER_ECALL, back3)
back3:
  # instret counts retired instructions
  TEST(42)
  csrr a0, minstret
  nop
  nop
  nop
  csrr a1, minstret
  sub a2, a1, a0
  beqz a2, fail                            # it moved forward
  # minstret is writable from M: right after writing 0 it reads small.
  # (The bound is loose because QEMU, used to check these tests, counts host
  # clock ticks instead of instructions when not in icount mode.)
  TEST(43)
  csrw minstret, zero
  csrr a0, minstret
  li a1, 0x100000
  bgeu a0, a1, fail

  j pass
TEST_END
