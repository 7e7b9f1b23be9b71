/*
 * Minimal M-mode SBI firmware for qemu-system-riscv32 -M virt, single hart.
 * A test aid only: Debian ships OpenSBI for rv64 only, and this is enough to
 * cross-check the guest images (scripts/qemu-guest.sh) on QEMU.
 *
 * Implements the legacy SBI v0.1 calls (set_timer, console_putchar/getchar,
 * clear/send_ipi, remote fences, shutdown); every other call returns
 * SBI_ERR_NOT_SUPPORTED, so Linux falls back to v0.1. Delegates exceptions
 * and S-mode interrupts to S-mode, forwards the M-timer interrupt as STIP,
 * and jumps to the kernel that QEMU loaded (fw_dynamic_info.next_addr) with
 * a0 = hartid, a1 = dtb. Shutdown writes QEMU's sifive_test device.
 * Needs "-cpu rv32,sstc=false" (it does not enable Sstc via menvcfg).
 */
#define UART 0x10000000
#define CLINT_CMP 0x02004000
#define TEST_DEV 0x00100000
	.section .text.start
	.globl _start
_start:
	csrr t0, mhartid
	bnez t0, park
	mv s0, a1               /* dtb */
	lw s1, 8(a2)            /* fw_dynamic_info.next_addr */
	lla t0, trap
	csrw mtvec, t0
	lla t0, stack_top
	csrw mscratch, t0
	li t0, -1
	csrw pmpaddr0, t0
	li t0, 0x1f
	csrw pmpcfg0, t0
	li t0, 0xB1FF
	csrw medeleg, t0
	li t0, 0x222
	csrw mideleg, t0
	li t0, 7
	csrw mcounteren, t0
	li t0, (3 << 11)
	csrc mstatus, t0
	li t0, (1 << 11)
	csrs mstatus, t0
	csrw mepc, s1
	csrw satp, zero
	li a0, 0
	mv a1, s0
	mret
park:
	wfi
	j park

	.align 4
trap:
	csrrw sp, mscratch, sp
	addi sp, sp, -32
	sw t0, 0(sp)
	sw t1, 4(sp)
	sw t2, 8(sp)
	sw t3, 12(sp)
	csrr t0, mcause
	bltz t0, irq
	li t1, 9
	bne t0, t1, bad
	csrr t1, mepc
	addi t1, t1, 4
	csrw mepc, t1
	li t1, 0
	beq a7, t1, set_timer
	li t1, 1
	beq a7, t1, putchar
	li t1, 2
	beq a7, t1, getchar
	li t1, 3
	beq a7, t1, clear_ipi
	li t1, 8
	beq a7, t1, shutdown
	li t1, 5
	beq a7, t1, fences
	li t1, 6
	beq a7, t1, fences
	li t1, 7
	beq a7, t1, fences
	li t1, 4
	beq a7, t1, ok
	li a0, -2               /* SBI_ERR_NOT_SUPPORTED for everything else */
	j out
set_timer:
	li t2, CLINT_CMP
	li t3, -1
	sw t3, 4(t2)
	sw a0, 0(t2)
	sw a1, 4(t2)
	li t3, 0x20
	csrc mip, t3
	li t3, 0x80
	csrs mie, t3
	j ok
putchar:
	li t2, UART
1:	lbu t3, 5(t2)
	andi t3, t3, 0x20
	beqz t3, 1b
	sb a0, 0(t2)
	j ok
getchar:
	li t2, UART
	lbu t3, 5(t2)
	andi t3, t3, 1
	li a0, -1
	beqz t3, out
	lbu a0, 0(t2)
	j out
clear_ipi:
	li t3, 2
	csrc mip, t3
	j ok
fences:
	fence.i
	sfence.vma
	j ok
shutdown:
	li t2, TEST_DEV
	li t3, 0x5555
	sw t3, 0(t2)
	j shutdown
ok:
	li a0, 0
out:
	lw t0, 0(sp)
	lw t1, 4(sp)
	lw t2, 8(sp)
	lw t3, 12(sp)
	addi sp, sp, 32
	csrrw sp, mscratch, sp
	mret
irq:
	slli t0, t0, 1
	srli t0, t0, 1
	li t1, 7
	bne t0, t1, out
	li t3, 0x80
	csrc mie, t3
	li t3, 0x20
	csrs mip, t3
	j out
bad:
	li t2, UART
	li t3, '!'
	sb t3, 0(t2)
	/* exit qemu with failure */
	li t2, TEST_DEV
	li t3, 0x13333
	sw t3, 0(t2)
	j bad

	.bss
	.align 4
	.space 1024
stack_top:
