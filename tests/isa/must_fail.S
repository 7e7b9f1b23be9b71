# must_fail.S: a program whose check 7 fails on purpose. Not in the list of ISA tests: the test
# `a_failing_check_ends_semu_with_its_number` (tests/isa.rs) runs it and expects `semu run` to
# report test 7 and exit with status 7.
#include "common.h"
TEST_BEGIN

  TEST(2);  li a0, 1; addi a2, a0, 1;  EXPECT_EQ(a2, 2)
  TEST(7);  li a0, 1; addi a2, a0, 1;  EXPECT_EQ(a2, 3)
  TEST(8);  li a0, 1;                  EXPECT_EQ(a0, 1)

TEST_END
