# loadstore.S: sign/zero extension of lb/lh/lbu/lhu at every byte lane,
# partial stores (sb/sh) leave the other bytes alone, immediate offsets at
# the ends of the 12-bit range, little-endian byte order.
#include "common.h"
TEST_BEGIN

  la s0, data                      # data: 0x80 0x7f 0xff 0x01 | 0x00 0x80 0xff 0x7f
  TEST(2);  lb  a0, 0(s0);  EXPECT_EQ(a0, 0xffffff80)
  TEST(3);  lbu a0, 0(s0);  EXPECT_EQ(a0, 0x00000080)
  TEST(4);  lb  a0, 1(s0);  EXPECT_EQ(a0, 0x0000007f)
  TEST(5);  lbu a0, 1(s0);  EXPECT_EQ(a0, 0x0000007f)
  TEST(6);  lb  a0, 2(s0);  EXPECT_EQ(a0, 0xffffffff)
  TEST(7);  lbu a0, 2(s0);  EXPECT_EQ(a0, 0x000000ff)
  TEST(8);  lb  a0, 3(s0);  EXPECT_EQ(a0, 0x00000001)
  TEST(9);  lh  a0, 0(s0);  EXPECT_EQ(a0, 0x00007f80)
  TEST(10); lhu a0, 0(s0);  EXPECT_EQ(a0, 0x00007f80)
  TEST(11); lh  a0, 2(s0);  EXPECT_EQ(a0, 0x000001ff)
  TEST(12); lh  a0, 4(s0);  EXPECT_EQ(a0, 0xffff8000)
  TEST(13); lhu a0, 4(s0);  EXPECT_EQ(a0, 0x00008000)
  TEST(14); lh  a0, 6(s0);  EXPECT_EQ(a0, 0x00007fff)
  TEST(15); lw  a0, 0(s0);  EXPECT_EQ(a0, 0x01ff7f80)
  TEST(16); lw  a0, 4(s0);  EXPECT_EQ(a0, 0x7fff8000)
  TEST(17); lb  a0, 5(s0);  EXPECT_EQ(a0, 0xffffff80)
  TEST(18); lhu a0, 6(s0);  EXPECT_EQ(a0, 0x00007fff)
  # negative offsets
  addi s1, s0, 8
  TEST(19); lb  a0, -8(s1); EXPECT_EQ(a0, 0xffffff80)
  TEST(20); lhu a0, -4(s1); EXPECT_EQ(a0, 0x00008000)
  TEST(21); lw  a0, -4(s1); EXPECT_EQ(a0, 0x7fff8000)

  # partial stores
  la s0, buf
  li a0, 0x11223344
  sw a0, 0(s0)
  TEST(22); li a1, 0xaabbccdd; sb a1, 1(s0); lw a0, 0(s0); EXPECT_EQ(a0, 0x1122dd44)
  TEST(23); li a1, 0xaabbccdd; sh a1, 2(s0); lw a0, 0(s0); EXPECT_EQ(a0, 0xccdddd44)
  TEST(24); li a1, 0xffffffff; sb a1, 0(s0); lw a0, 0(s0); EXPECT_EQ(a0, 0xccddddff)
  TEST(25); lb a0, 0(s0);  EXPECT_EQ(a0, 0xffffffff)
  TEST(26); lbu a0, 3(s0); EXPECT_EQ(a0, 0xcc)
  TEST(27); li a1, 0x8000; sh a1, 0(s0); lh a0, 0(s0); EXPECT_EQ(a0, 0xffff8000)
  TEST(28); lw a0, 0(s0);  EXPECT_EQ(a0, 0xccdd8000)
  TEST(29); lw a0, 4(s0);  EXPECT_EQ(a0, 0)          # neighbour untouched

  # 12-bit offset extremes
  la s0, big
  addi s1, s0, 2047
  addi s1, s1, 1                   # s1 = big + 2048
  TEST(30); li a1, 0x5a5a1234; sw a1, 2044(s0); lw a0, -4(s1); EXPECT_EQ(a0, 0x5a5a1234)
  TEST(31); li a1, 0x0bad0bad; sw a1, -2048(s1); lw a0, 0(s0); EXPECT_EQ(a0, 0x0bad0bad)
  TEST(32); li a1, 0xa5; sb a1, 2047(s0); lbu a0, -1(s1); EXPECT_EQ(a0, 0xa5)

  # load into the base register
  TEST(33); la a0, data; lw a0, 4(a0); EXPECT_EQ(a0, 0x7fff8000)

  j pass
TEST_END

  .data
  .align 4
data: .byte 0x80, 0x7f, 0xff, 0x01, 0x00, 0x80, 0xff, 0x7f
  .align 4
buf:  .word 0, 0, 0, 0
  .align 4
big:  .skip 4096
