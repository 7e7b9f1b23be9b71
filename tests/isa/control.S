# control.S: branches at signed/unsigned boundaries, jal/jalr link values,
# jalr clears bit 0 of the target, jalr with rd == rs1 uses the old rs1.
#include "common.h"

#define BR_TAKEN(n, op, v1, v2)     TEST(n); li a0, v1; li a1, v2; op a0, a1, 1f; j fail; 1:
#define BR_NOT_TAKEN(n, op, v1, v2) TEST(n); li a0, v1; li a1, v2; op a0, a1, fail

TEST_BEGIN
  BR_TAKEN(2, blt, 0x80000000, 0x7fffffff)
  BR_NOT_TAKEN(3, bltu, 0x80000000, 0x7fffffff)
  BR_TAKEN(4, bltu, 0x7fffffff, 0x80000000)
  BR_TAKEN(5, bge, 0x7fffffff, 0x80000000)
  BR_NOT_TAKEN(6, bgeu, 0x7fffffff, 0x80000000)
  BR_TAKEN(7, bgeu, 0xffffffff, 0xffffffff)
  BR_TAKEN(8, bge, 0xffffffff, 0xffffffff)
  BR_NOT_TAKEN(9, blt, 0xffffffff, 0xffffffff)
  BR_TAKEN(10, bne, 0x80000000, 0)
  BR_NOT_TAKEN(11, beq, 0x80000000, 0)
  BR_TAKEN(12, beq, 0, 0)
  BR_NOT_TAKEN(13, bne, 0xffffffff, 0xffffffff)
  BR_TAKEN(14, bltu, 0, 0xffffffff)
  BR_NOT_TAKEN(15, blt, 0, 0xffffffff)

  # backward branch loop
  TEST(16); li a0, 0; li a1, 10
1:  addi a0, a0, 1
    bne a0, a1, 1b
  EXPECT_EQ(a0, 10)

  # jal writes pc+4
  TEST(17)
  jal ra, 2f
1:j fail
2:la a0, 1b
  bne ra, a0, fail

  # jalr: target = (rs1 + imm) & ~1, link = pc + 4
  TEST(18)
  la a0, 3f
  addi a0, a0, 1             # odd target address
  jalr a1, 0(a0)
2:j fail
3:la a2, 2b
  bne a1, a2, fail

  TEST(19)
  la a0, 3f
  jalr a1, -3(a0)            # wrong on purpose...
  j 4f                       # ...lands here: (3f - 3) & ~1 = 3f - 4
3:j fail
4:
  TEST(20)
  la a0, 3f
  addi a0, a0, -8
  jalr a1, 9(a0)             # (3f + 1) & ~1 = 3f
  j fail
3:

  # jalr with rd == rs1: the target uses the old value
  TEST(21)
  la ra, 3f
  jalr ra, 0(ra)
2:j fail
3:la a0, 2b
  bne ra, a0, fail

  # jal/jalr with rd = x0 do not link
  TEST(22)
  li a0, 0x1234
  mv a1, a0
  la a2, 3f
  jalr x0, 0(a2)
  j fail
3:bne a0, a1, fail

  # fence and fence.i are harmless here
  TEST(23)
  fence
  fence rw, rw
  fence.i
  fence.tso

  j pass
TEST_END
