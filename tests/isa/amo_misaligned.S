# amo_misaligned.S: a misaligned AMO or SC.W raises store/AMO address
# misaligned (cause 6) and writes neither rd nor memory; a misaligned LR.W
# raises load address misaligned (cause 4).
#
# QEMU 7.2 (used to check these tests) reports a misaligned AMO as a *load*
# address-misaligned exception (cause 4); the privileged spec (sec. 3.7,
# "Store/AMO address misaligned") and the A extension make it cause 6, so
# this program fails on QEMU 7.2 at check 2. See tests/isa/README.md.
#include "common.h"
TEST_BEGIN
  la s0, word
  li a0, 0x44444444
  sw a0, 0(s0)
  li a1, 0x12345678
  # misaligned AMO / SC: store/AMO address misaligned (6); LR: load misaligned (4)
  TEST(2)
  addi s1, s0, 2
  li a2, 0x777
  EXPECT_TRAP(CAUSE_MISALIGNED_STORE)
  amoadd.w a2, a1, (s1)
  CHECK_TRAPPED(CAUSE_MISALIGNED_STORE); j 1f
1:
  TEST(3)
  EXPECT_EQ(a2, 0x777)                 # rd not written
  lw a4, 0(s0);      EXPECT_EQ(a4, 0x44444444)
  TEST(4)
  addi s1, s0, 1
  EXPECT_TRAP(CAUSE_MISALIGNED_STORE)
  amoswap.w a2, a1, (s1)
  CHECK_TRAPPED(CAUSE_MISALIGNED_STORE)
  TEST(5)
  addi s1, s0, 2
  EXPECT_TRAP(CAUSE_MISALIGNED_LOAD)
  lr.w a2, (s1)
  CHECK_TRAPPED(CAUSE_MISALIGNED_LOAD)
  TEST(6)
  lr.w a2, (s0)
  addi s1, s0, 2
  EXPECT_TRAP(CAUSE_MISALIGNED_STORE)
  sc.w a2, a1, (s1)
  CHECK_TRAPPED(CAUSE_MISALIGNED_STORE)

  j pass
TEST_END

  .data
  .align 4
word:  .word 0, 0
