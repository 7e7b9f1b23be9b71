# warl.S: WARL fields that must not hold unsupported values.
# mstatus.MPP cannot hold 2 (no H-mode); mtvec cannot hold a reserved MODE
# (2 or 3); sstatus.SPP is one bit; mstatus.SD/UXL-like bits stay zero.
#
# QEMU 7.2 (used to check these tests) keeps MPP = 2 when software writes
# it, which the privileged spec (sec. 3.1.6.1: MPP is WARL and "M-mode
# software can determine whether a privilege mode is implemented by writing
# that mode to MPP then reading it back") does not allow; so this program
# fails on QEMU 7.2 at check 2. See tests/isa/README.md.
#include "common.h"
TEST_BEGIN
  TEST(2)
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (2 << 11)
  csrs mstatus, t0
  csrr t1, mstatus
  li t0, MSTATUS_MPP
  and t1, t1, t0
  EXPECT_NE(t1, (2 << 11))
  # the legal values do stick
  TEST(3)
  .irp m, 0, 1, 3
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (\m << 11)
  csrs mstatus, t0
  csrr t1, mstatus
  li t0, MSTATUS_MPP
  and t1, t1, t0
  EXPECT_EQ(t1, (\m << 11))
  .endr
  # mtvec: reserved modes are not stored (the old value or a legal mode)
  TEST(4)
  la t0, trap_entry
  ori t1, t0, 2
  csrw mtvec, t1
  csrr t2, mtvec
  andi t2, t2, 3
  li t1, 2
  bgeu t2, t1, fail
  csrw mtvec, t0
  TEST(5)
  ori t1, t0, 3
  csrw mtvec, t1
  csrr t2, mtvec
  andi t2, t2, 3
  li t1, 2
  bgeu t2, t1, fail
  csrw mtvec, t0
  csrr t2, mtvec
  bne t2, t0, fail
  # stvec likewise
  TEST(6)
  la t0, strap_entry
  ori t1, t0, 3
  csrw stvec, t1
  csrr t2, stvec
  andi t2, t2, 3
  li t1, 2
  bgeu t2, t1, fail
  j pass
TEST_END
