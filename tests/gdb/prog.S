# prog.S: the program the GDB stub tests drive (tests/gdb.rs) on machines/bare-metal.toml.
#
# Hart 0 stores a0 to `value` at `store`, then spins until a debugger sets `flag`, and passes
# (tohost = 1) only if `value` is 5 by then; otherwise it fails (tohost = 3). So without a
# debugger it never ends. Other harts park in `wfi`.
#
# A debugger from the start: break *at_break; continue; stepi; set $a0 = 5;
# watch *(int*)&value; continue (stops after `store`: Old value = 0, New value = 5);
# set *(int*)&flag = 1; continue (pass).
# A debugger attaching later: interrupt (Ctrl-C) while it spins; set *(int*)&value = 5;
# set *(int*)&flag = 1; continue (pass).

  .section .text.init
  .globl _start
_start:
  csrr t0, mhartid
  bnez t0, park
  li a0, 0
  li a1, 0
  # a little work before the breakpoint
  li t0, 10
1:
  addi a1, a1, 1
  addi t0, t0, -1
  bnez t0, 1b

  .globl at_break
at_break:
  li a0, 1                  # stepi executes this; the debugger then sets a0 = 5
  nop
  la t0, value
  .globl store
store:
  sw a0, 0(t0)              # a watchpoint on `value` reports this store

  la t1, flag
  .globl spin
spin:
  lw t2, 0(t1)
  beqz t2, spin

  lw t1, 0(t0)
  li t2, 5
  bne t1, t2, fail
  .globl pass
pass:
  li t0, 1
  la t1, tohost
  sw t0, 0(t1)
1:
  j 1b

fail:
  li t0, 3
  la t1, tohost
  sw t0, 0(t1)
1:
  j 1b

  .globl park
park:
  wfi
  j park

  .section .tohost, "aw", @progbits
  .align 6
  .globl tohost
tohost: .word 0
  .word 0

  .data
  .align 4
  .globl data
data:
  .word 0x11111111, 0x22222222, 0x33333333, 0x44444444
  .globl value
value:
  .word 0
  .globl flag
flag:
  .word 0
