# sv32.S: Sv32 translation, built by the test itself.
#   0x8000_0000  4 MiB superpage, identity, RWX (code, data, tohost)
#   0xc000_0000  4 MiB superpage alias of 0x8000_0000, RW
#   0xc040_0000  "superpage" whose PPN[0] != 0: misaligned -> page fault
#   0xc080_0000  4 MiB superpage alias of 0x8000_0000, U RWX (user code)
#   0x4000_0000  4 KiB pages through a second-level table:
#     +0x0000 page_a RW, A = D = 0 (hardware sets them)
#     +0x1000 page_a RW again (alias)
#     +0x2000 page_b R only
#     +0x3000 page_b U RW
#     +0x4000 page_b X only (MXR)
#     +0x5000 xpage  X only (code)
#     +0x6000 page_c RW, remapped to page_d (sfence.vma)
#     +0x8000 page_b with W but no R (reserved encoding)
#   0x5000_0000  nothing (invalid root entry)
# Faults: load/store/fetch page faults with cause 13/15/12 and
# mtval/stval = the faulting virtual address, first handled in M, then
# delegated to S; SUM, MXR, MPRV; U-mode access to S pages.
#include "common.h"

#define PTE_OF(pa_reg, flags)  srli pa_reg, pa_reg, 12; slli pa_reg, pa_reg, 10; ori pa_reg, pa_reg, flags
# store t1 into root[vpn1]
#define SET_ROOT(vpn1)  la t0, root; li t2, (vpn1) * 4; add t2, t0, t2; sw t1, 0(t2)
# store t1 into l0[idx]
#define SET_L0(idx)     la t0, l0; sw t1, (idx) * 4(t0)
#define LEAF_SUPER(pa, flags)  li t1, (((pa) >> 12) << 10) | (flags)
#define USER_ALIAS(label) (label - 0x80000000 + 0xc0800000)

TEST_BEGIN
  # ---- build the tables (M-mode, physical addresses) ----
  LEAF_SUPER(0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_A | PTE_D)
  SET_ROOT(0x200)
  LEAF_SUPER(0x80000000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)
  SET_ROOT(0x300)
  LEAF_SUPER(0x80001000, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D)   # PPN[0] = 1
  SET_ROOT(0x301)
  LEAF_SUPER(0x80000000, PTE_V | PTE_R | PTE_W | PTE_X | PTE_U | PTE_A | PTE_D)
  SET_ROOT(0x302)
  la t1, l0
  PTE_OF(t1, PTE_V)                      # pointer to the next level
  SET_ROOT(0x100)

  la t1, page_a; PTE_OF(t1, PTE_V | PTE_R | PTE_W);                 SET_L0(0)
  la t1, page_a; PTE_OF(t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D); SET_L0(1)
  la t1, page_b; PTE_OF(t1, PTE_V | PTE_R | PTE_A);                 SET_L0(2)
  la t1, page_b; PTE_OF(t1, PTE_V | PTE_R | PTE_W | PTE_U | PTE_A | PTE_D); SET_L0(3)
  la t1, page_b; PTE_OF(t1, PTE_V | PTE_X | PTE_A);                 SET_L0(4)
  la t1, xpage;  PTE_OF(t1, PTE_V | PTE_X | PTE_A);                 SET_L0(5)
  la t1, page_c; PTE_OF(t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D); SET_L0(6)
  la t1, page_b; PTE_OF(t1, PTE_V | PTE_W | PTE_A | PTE_D);         SET_L0(8)

  la t0, root
  srli t0, t0, 12
  li t1, SATP_SV32
  or t0, t0, t1
  csrw satp, t0
  sfence.vma
  TEST(2)
  csrr t1, satp
  bne t0, t1, fail                       # Sv32 is supported

  MRET_TO(PRV_S, s_main)
s_main:
  # ---- translation basics ----
  TEST(3)                                # superpage alias reads the same word
  la a0, magic
  li t0, 0xc0000000 - 0x80000000
  add a1, a0, t0
  lw a2, 0(a1)
  EXPECT_EQ(a2, 0x600dc0de)
  li a3, 0x12345678
  sw a3, 0(a1)                           # and writes through it
  lw a2, 0(a0)
  EXPECT_EQ(a2, 0x12345678)

  TEST(4)                                # A set by a load, D by a store
  li s0, 0x40000000
  la s1, l0
  lw t1, 0(s1)
  andi t1, t1, PTE_A | PTE_D
  EXPECT_EQ(t1, 0)
  lw a0, 0(s0)
  EXPECT_EQ(a0, 0xaaaa0000)
  lw t1, 0(s1)
  andi t1, t1, PTE_A | PTE_D
  EXPECT_EQ(t1, PTE_A)
  TEST(5)
  li a0, 0xaaaa1111
  sw a0, 4(s0)
  lw t1, 0(s1)
  andi t1, t1, PTE_A | PTE_D
  EXPECT_EQ(t1, PTE_A | PTE_D)

  TEST(6)                                # two virtual pages, one physical page
  li s2, 0x40001000
  lw a0, 4(s2)
  EXPECT_EQ(a0, 0xaaaa1111)
  li a1, 0x0a11a5ed
  sw a1, 8(s2)
  lw a0, 8(s0)
  EXPECT_EQ(a0, 0x0a11a5ed)

  # ---- faults, handled in M (medeleg = 0) ----
  TEST(7)                                # invalid root entry
  li a0, 0x50000010
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT); CHECK_TVAL(0x50000010); CHECK_HANDLED_IN(3)
  TEST(8)
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  sw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT); CHECK_TVAL(0x50000010)
  TEST(9)                                # invalid leaf (l0[7])
  li a0, 0x40007ffc
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT); CHECK_TVAL(0x40007ffc)

  TEST(10)                               # store to a read-only page
  li a0, 0x40002000
  lw a1, 4(a0)                           # reading is fine
  EXPECT_EQ(a1, 0xbbbb0001)
  li a2, 0x1234
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  sw a2, 4(a0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT); CHECK_TVAL(0x40002004)
  lw a1, 4(a0)
  EXPECT_EQ(a1, 0xbbbb0001)              # memory unchanged
  TEST(11)                               # also for byte stores and AMOs
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  sb a2, 7(a0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT); CHECK_TVAL(0x40002007)
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  amoor.w a3, a2, (a0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT); CHECK_TVAL(0x40002000)

  TEST(12)                               # fetch from a page without X
  EXPECT_TRAP_RESUME(CAUSE_FETCH_PAGE_FAULT, back12, PRV_S)
  li a0, 0x40000000
  jalr ra, 0(a0)
  j fail
back12:
  CHECK_TRAPPED(CAUSE_FETCH_PAGE_FAULT); CHECK_TVAL(0x40000000)
  li t0, 0x40000000
  bne s8, t0, fail                       # mepc = the target

  TEST(13)                               # an execute-only page runs...
  li a0, 0x40005000
  jalr ra, 0(a0)
  EXPECT_EQ(a0, 42)
  TEST(14)                               # ...but cannot be read while MXR = 0
  li a0, 0x40004008
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT); CHECK_TVAL(0x40004008)
  TEST(15)                               # MXR = 1: readable
  li t0, MSTATUS_MXR
  csrs sstatus, t0
  lw a1, 0(a0)
  EXPECT_EQ(a1, 0xbbbb0002)
  li t0, MSTATUS_MXR
  csrc sstatus, t0

  TEST(16)                               # misaligned superpage
  li a0, 0xc0400000
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT); CHECK_TVAL(0xc0400000)

  TEST(17)                               # W without R is reserved
  li a0, 0x40008000
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT)
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  sw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT)

  TEST(18)                               # SUM: S may touch U pages only with SUM = 1
  li a0, 0x40003000
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT); CHECK_TVAL(0x40003000)
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  sw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT)
  TEST(19)
  li t0, MSTATUS_SUM
  csrs sstatus, t0
  lw a1, 0(a0)
  EXPECT_EQ(a1, 0xbbbb0000)
  li t0, MSTATUS_SUM
  csrc sstatus, t0
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)     # and without SUM again, though the page was just read
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT)

  TEST(20)                               # sfence.vma makes a changed PTE visible
  li a0, 0x40006000
  lw a1, 0(a0)
  EXPECT_EQ(a1, 0xcccc0000)
  la t1, page_d; PTE_OF(t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D); SET_L0(6)
  sfence.vma
  lw a1, 0(a0)
  EXPECT_EQ(a1, 0xdddd0000)
  TEST(21)                               # address-specific sfence.vma too
  la t1, page_c; PTE_OF(t1, PTE_V | PTE_R | PTE_W | PTE_A | PTE_D); SET_L0(6)
  sfence.vma a0, zero
  lw a1, 0(a0)
  EXPECT_EQ(a1, 0xcccc0000)

  # ---- U-mode (code through the U alias) ----
  TEST(22)
  li t0, MSTATUS_SPP
  csrc sstatus, t0
  la t0, USER_ALIAS(u_main)
  csrw sepc, t0
  sret
u_main:
  li a0, 0x40003000                      # U page: fine
  lw a1, 0(a0)
  EXPECT_EQ(a1, 0xbbbb0000)
  TEST(23)
  li a0, 0x40001000                      # S page: load page fault
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT); CHECK_TVAL(0x40001000)
  TEST(24)                               # U cannot execute S pages
  # (la is pc-relative, so in this alias it yields alias addresses)
  EXPECT_TRAP_RESUME(CAUSE_FETCH_PAGE_FAULT, back24, PRV_U)
  li a0, 0x40005000
  jalr ra, 0(a0)
  j fail
back24:
  CHECK_TRAPPED(CAUSE_FETCH_PAGE_FAULT); CHECK_TVAL(0x40005000)
  # back to S (identity addresses again)
  EXPECT_TRAP_RESUME(CAUSE_USER_ECALL, s_part2, PRV_S)
  li t0, 0xc0800000 - 0x80000000         # la gave the alias: S needs identity
  sub s7, s7, t0
  ecall
  j fail

s_part2:
  # ---- the same faults delegated to S ----
  TEST(25)
  li t0, (1 << CAUSE_LOAD_PAGE_FAULT) | (1 << CAUSE_STORE_PAGE_FAULT) | (1 << CAUSE_FETCH_PAGE_FAULT)
  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, m25)
m25:
  csrw medeleg, t0
  la t1, strap_entry
  csrw stvec, t1
  MRET_TO(PRV_S, s25)
s25:
  li a0, 0x50000004
  EXPECT_TRAP(CAUSE_LOAD_PAGE_FAULT)
  lw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_LOAD_PAGE_FAULT); CHECK_TVAL(0x50000004); CHECK_HANDLED_IN(1)
  TEST(26)
  li a0, 0x40002008
  EXPECT_TRAP(CAUSE_STORE_PAGE_FAULT)
  sw a1, 0(a0)
  CHECK_TRAPPED(CAUSE_STORE_PAGE_FAULT); CHECK_TVAL(0x40002008); CHECK_HANDLED_IN(1)
  TEST(27)
  EXPECT_TRAP_RESUME(CAUSE_FETCH_PAGE_FAULT, back27, PRV_S)
  li a0, 0x40001000
  jalr ra, 0(a0)
  j fail
back27:
  CHECK_TRAPPED(CAUSE_FETCH_PAGE_FAULT); CHECK_TVAL(0x40001000); CHECK_HANDLED_IN(1)
  li t0, 0x40001000
  bne s8, t0, fail                       # sepc = the target

  ECALL_TO_M(CAUSE_SUPERVISOR_ECALL, m28)
m28:
  # ---- MPRV: M-mode loads and stores translated as MPP = S ----
  TEST(28)
  li t0, MSTATUS_MPP
  csrc mstatus, t0
  li t0, (PRV_S << 11) | MSTATUS_MPRV
  csrs mstatus, t0
  li a0, 0x40001000
  lw a1, 8(a0)
  li t0, MSTATUS_MPRV
  csrc mstatus, t0
  EXPECT_EQ(a1, 0x0a11a5ed)
  # M-mode itself is not translated
  TEST(29)
  la a0, magic
  lw a1, 0(a0)
  EXPECT_EQ(a1, 0x12345678)
  csrw satp, zero
  sfence.vma
  j pass

  # the execute-only code page
  .align 12
xpage:
  li a0, 42
  ret
  .align 12
TEST_END

  .data
  .align 12
root:   .skip 4096
l0:     .skip 4096
page_a: .word 0xaaaa0000
  .align 12
page_b: .word 0xbbbb0000, 0xbbbb0001, 0xbbbb0002
  .align 12
page_c: .word 0xcccc0000
  .align 12
page_d: .word 0xdddd0000
  .align 12
magic:  .word 0x600dc0de
