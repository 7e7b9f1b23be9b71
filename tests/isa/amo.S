# amo.S: every RV32A AMO: old value in rd, new value in memory, signed vs
# unsigned min/max, rd == rs2, rd = x0, .aq/.rl forms; LR/SC success and
# failure (no reservation, SC twice, other address, trap in between).
# Misaligned forms are in amo_misaligned.S.
#include "common.h"
TEST_BEGIN
  la s0, word

  TEST(2); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoswap.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(3); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amoswap.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000001)
  TEST(4); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amoswap.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(5); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amoswap.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)
  TEST(6); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amoswap.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x12345678)
  TEST(7); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoswap.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(8); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoswap.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)

  TEST(9); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoadd.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(10); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amoadd.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000000)
  TEST(11); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amoadd.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000000)
  TEST(12); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amoadd.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(13); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amoadd.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x2468acf0)
  TEST(14); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoadd.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(15); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoadd.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)

  TEST(16); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoxor.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(17); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amoxor.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0xfffffffe)
  TEST(18); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amoxor.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0xfffffffe)
  TEST(19); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amoxor.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(20); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amoxor.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000000)
  TEST(21); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoxor.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(22); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoxor.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)

  TEST(23); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoand.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000000)
  TEST(24); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amoand.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000001)
  TEST(25); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amoand.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000001)
  TEST(26); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amoand.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000000)
  TEST(27); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amoand.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x12345678)
  TEST(28); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoand.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000000)
  TEST(29); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoand.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000000)

  TEST(30); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoor.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(31); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amoor.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(32); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amoor.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(33); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amoor.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(34); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amoor.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x12345678)
  TEST(35); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoor.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(36); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amoor.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)

  TEST(37); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomin.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)
  TEST(38); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amomin.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(39); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amomin.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(40); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amomin.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)
  TEST(41); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amomin.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x12345678)
  TEST(42); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomin.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)
  TEST(43); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomin.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)

  TEST(44); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomax.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(45); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amomax.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000001)
  TEST(46); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amomax.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000001)
  TEST(47); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amomax.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(48); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amomax.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x12345678)
  TEST(49); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomax.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(50); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomax.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)

  TEST(51); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amominu.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(52); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amominu.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000001)
  TEST(53); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amominu.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0x00000001)
  TEST(54); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amominu.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(55); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amominu.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x12345678)
  TEST(56); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amominu.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)
  TEST(57); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amominu.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0x7fffffff)

  TEST(58); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomaxu.w a2, a1, (s0); EXPECT_EQ(a2, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)
  TEST(59); li a0, 0xffffffff; sw a0, 0(s0); li a1, 0x00000001; amomaxu.w a2, a1, (s0); EXPECT_EQ(a2, 0xffffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(60); li a0, 0x00000001; sw a0, 0(s0); li a1, 0xffffffff; amomaxu.w a2, a1, (s0); EXPECT_EQ(a2, 0x00000001); lw a3, 0(s0); EXPECT_EQ(a3, 0xffffffff)
  TEST(61); li a0, 0x7fffffff; sw a0, 0(s0); li a1, 0x80000000; amomaxu.w a2, a1, (s0); EXPECT_EQ(a2, 0x7fffffff); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)
  TEST(62); li a0, 0x12345678; sw a0, 0(s0); li a1, 0x12345678; amomaxu.w a2, a1, (s0); EXPECT_EQ(a2, 0x12345678); lw a3, 0(s0); EXPECT_EQ(a3, 0x12345678)
  TEST(63); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomaxu.w.aqrl a1, a1, (s0); EXPECT_EQ(a1, 0x80000000); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)
  TEST(64); li a0, 0x80000000; sw a0, 0(s0); li a1, 0x7fffffff; amomaxu.w.aq x0, a1, (s0); lw a3, 0(s0); EXPECT_EQ(a3, 0x80000000)

  # LR/SC
  TEST(65)                            # SC without a reservation fails, memory unchanged
  li a0, 0x11111111; sw a0, 0(s0)
  li a1, 0x22222222
  sc.w a2, a1, (s0)
  EXPECT_NE(a2, 0)
  lw a3, 0(s0); EXPECT_EQ(a3, 0x11111111)
  TEST(66)                            # LR then SC succeeds (rd = 0)
  lr.w a2, (s0);     EXPECT_EQ(a2, 0x11111111)
  sc.w a3, a1, (s0); EXPECT_EQ(a3, 0)
  lw a4, 0(s0);      EXPECT_EQ(a4, 0x22222222)
  TEST(67)                            # a second SC fails: the reservation is used up
  li a1, 0x33333333
  sc.w a3, a1, (s0); EXPECT_NE(a3, 0)
  lw a4, 0(s0);      EXPECT_EQ(a4, 0x22222222)
  TEST(68)                            # lr.aqrl / sc.rl forms, rd == rs2 on SC
  lr.w.aqrl a2, (s0)
  li a1, 0x44444444
  sc.w.rl a1, a1, (s0); EXPECT_EQ(a1, 0)
  lw a4, 0(s0);      EXPECT_EQ(a4, 0x44444444)
  TEST(69)                            # an SC to another address than the LR fails
  la s1, other
  lr.w a2, (s0)
  li a1, 0x55555555
  sc.w a3, a1, (s1); EXPECT_NE(a3, 0)
  lw a4, 0(s1);      EXPECT_EQ(a4, 0)
  TEST(70)                            # a trap in between clears the reservation
  lr.w a2, (s0)
  EXPECT_TRAP(CAUSE_MACHINE_ECALL)
  ecall
  li a1, 0x66666666
  sc.w a3, a1, (s0)
  CHECK_TRAPPED(CAUSE_MACHINE_ECALL)
  EXPECT_NE(a3, 0)
  lw a4, 0(s0);      EXPECT_EQ(a4, 0x44444444)

  j pass
TEST_END

  .data
  .align 4
word:  .word 0, 0
other: .word 0, 0
