# alu.S: RV32I register/immediate arithmetic edge values, x0 writes ignored.
#include "common.h"
TEST_BEGIN

  # add/sub wrap around silently (no overflow trap)
  TEST(2);  li a0, 0x7fffffff; li a1, 1; add a2, a0, a1;  EXPECT_EQ(a2, 0x80000000)
  TEST(3);  li a0, 0x80000000; li a1, 1; sub a2, a0, a1;  EXPECT_EQ(a2, 0x7fffffff)
  TEST(4);  li a0, 0xffffffff; addi a2, a0, 1;            EXPECT_EQ(a2, 0)
  TEST(5);  li a0, 0; sub a2, zero, a0;                   EXPECT_EQ(a2, 0)
  TEST(6);  li a0, 0x80000000; sub a2, zero, a0;          EXPECT_EQ(a2, 0x80000000)
  # addi sign-extends its 12-bit immediate
  TEST(7);  li a0, 0; addi a2, a0, -2048;                 EXPECT_EQ(a2, 0xfffff800)
  TEST(8);  li a0, 0; addi a2, a0, 2047;                  EXPECT_EQ(a2, 0x7ff)

  # logic ops with sign-extended immediates
  TEST(9);  li a0, 0x12345678; andi a2, a0, -1;           EXPECT_EQ(a2, 0x12345678)
  TEST(10); li a0, 0x12345678; xori a2, a0, -1;           EXPECT_EQ(a2, 0xedcba987)
  TEST(11); li a0, 0x00000000; ori a2, a0, -2048;         EXPECT_EQ(a2, 0xfffff800)
  TEST(12); li a0, 0xf0f0f0f0; li a1, 0x0ff00ff0; and a2, a0, a1; EXPECT_EQ(a2, 0x00f000f0)
  TEST(13); li a0, 0xf0f0f0f0; li a1, 0x0ff00ff0; or a2, a0, a1;  EXPECT_EQ(a2, 0xfff0fff0)
  TEST(14); li a0, 0xf0f0f0f0; li a1, 0x0ff00ff0; xor a2, a0, a1; EXPECT_EQ(a2, 0xff00ff00)

  # set-less-than: signed vs unsigned at the boundaries
  TEST(15); li a0, 0x80000000; li a1, 0x7fffffff; slt a2, a0, a1;  EXPECT_EQ(a2, 1)
  TEST(16); li a0, 0x80000000; li a1, 0x7fffffff; sltu a2, a0, a1; EXPECT_EQ(a2, 0)
  TEST(17); li a0, 0xffffffff; slti a2, a0, 0;            EXPECT_EQ(a2, 1)
  TEST(18); li a0, 0;          sltiu a2, a0, -1;          EXPECT_EQ(a2, 1)  # imm sign-extends then compares unsigned
  TEST(19); li a0, 0xffffffff; sltiu a2, a0, -1;          EXPECT_EQ(a2, 0)
  TEST(20); li a0, 5;          sltu a2, zero, a0;         EXPECT_EQ(a2, 1)  # snez
  TEST(21); li a0, 0x80000000; slt a2, a0, a0;            EXPECT_EQ(a2, 0)

  # shifts by 31 and by 0
  TEST(22); li a0, 1;          slli a2, a0, 31;           EXPECT_EQ(a2, 0x80000000)
  TEST(23); li a0, 0x80000000; srli a2, a0, 31;           EXPECT_EQ(a2, 1)
  TEST(24); li a0, 0x80000000; srai a2, a0, 31;           EXPECT_EQ(a2, 0xffffffff)
  TEST(25); li a0, 0x7fffffff; srai a2, a0, 31;           EXPECT_EQ(a2, 0)
  TEST(26); li a0, 0x80000001; srai a2, a0, 0;            EXPECT_EQ(a2, 0x80000001)
  # register shifts use only rs2[4:0]: high bits set must be ignored
  TEST(27); li a0, 1;          li a1, 0xffffffff; sll a2, a0, a1; EXPECT_EQ(a2, 0x80000000)
  TEST(28); li a0, 0x80000000; li a1, 0xffffffff; srl a2, a0, a1; EXPECT_EQ(a2, 1)
  TEST(29); li a0, 0x80000000; li a1, 0xffffffff; sra a2, a0, a1; EXPECT_EQ(a2, 0xffffffff)
  TEST(30); li a0, 0x12345678; li a1, 0xffffffe0; sll a2, a0, a1; EXPECT_EQ(a2, 0x12345678)
  TEST(31); li a0, 0x12345678; li a1, 32;         srl a2, a0, a1; EXPECT_EQ(a2, 0x12345678)
  TEST(32); li a0, 0x80000000; li a1, 0x80000004; sra a2, a0, a1; EXPECT_EQ(a2, 0xf8000000)
  TEST(33); li a0, 0x80000000; li a1, 0x00000104; srl a2, a0, a1; EXPECT_EQ(a2, 0x08000000)

  # lui / auipc
  TEST(34); lui a2, 0xfffff;                              EXPECT_EQ(a2, 0xfffff000)
  TEST(35); lui a2, 0x80000; addi a2, a2, -1;             EXPECT_EQ(a2, 0x7fffffff)
  TEST(36)
1:  auipc a2, 0
    la a3, 1b
    bne a2, a3, fail
  TEST(37)
1:  auipc a2, 0x80000      # pc + 0x8000_0000 wraps: 0x8xxx_xxxx -> 0x0xxx_xxxx
    la a3, 1b
    li a4, 0x80000000
    add a3, a3, a4
    bne a2, a3, fail

  # writes to x0 are ignored, reads of x0 give 0
  TEST(38); addi x0, x0, 5;      mv a2, x0;               EXPECT_EQ(a2, 0)
  TEST(39); lui x0, 0x12345;     add a2, x0, x0;          EXPECT_EQ(a2, 0)
  TEST(40); li a0, -1; add x0, a0, a0; or a2, x0, zero;   EXPECT_EQ(a2, 0)
  TEST(41); la a0, word; lw x0, 0(a0);  mv a2, x0;        EXPECT_EQ(a2, 0)
  TEST(42); auipc x0, 1;         mv a2, x0;               EXPECT_EQ(a2, 0)
  TEST(43); jal x0, 1f; j fail
1:          mv a2, x0;                                    EXPECT_EQ(a2, 0)
  TEST(44); csrr x0, mscratch;   mv a2, x0;               EXPECT_EQ(a2, 0)
  TEST(45); li a0, 7; mul x0, a0, a0; mv a2, x0;          EXPECT_EQ(a2, 0)
  TEST(46); la a0, word; amoadd.w x0, a0, (a0); lw a1, 0(a0); mv a2, x0; EXPECT_EQ(a2, 0)

  j pass
TEST_END

  .data
  .align 2
word: .word 0x55aa55aa
