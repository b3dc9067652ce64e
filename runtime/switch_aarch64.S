/*
 * The fiber context switch for AArch64 (AAPCS64; see runtime/fiber.h).
 *
 *   void *weft_fiber_switch_asm(void **save_sp, void *to_sp, void *arg);
 *
 * Stores the callee-saved registers (x19-x28, the frame pointer x29, the link register x30,
 * the low halves d8-d15 of v8-v15) and FPCR in a 176-byte frame on the running stack, stores
 * the stack pointer into *save_sp, loads to_sp and restores the same frame from there.
 * Returns arg in the resumed context (x0), which is also a fresh fiber's entry argument;
 * "ret" jumps to the restored x30 (a fresh fiber's entry function).
 *
 * Frame at a suspended fiber's saved stack pointer (fiber.c builds the same for a fresh one):
 *   sp+0 x19 x20 x21 x22 x23 x24 x25 x26 x27 x28   sp+80 x29   sp+88 x30
 *   sp+96 d8 .. d15 (to sp+159)                     sp+160 FPCR   sp+168 unused
 */
#if defined(__aarch64__) && !defined(WEFT_FIBER_UCONTEXT)
	.text
	.globl	weft_fiber_switch_asm
	.hidden	weft_fiber_switch_asm
	.type	weft_fiber_switch_asm, %function
	.p2align 4
weft_fiber_switch_asm:
	/* weft_fiber_switch_asm_ret (see switch_x86_64.S) is the same here: both leave by ret. */
	.globl	weft_fiber_switch_asm_ret
	.hidden	weft_fiber_switch_asm_ret
weft_fiber_switch_asm_ret:
	.cfi_startproc
	sub	sp, sp, #176
	stp	x19, x20, [sp, #0]
	stp	x21, x22, [sp, #16]
	stp	x23, x24, [sp, #32]
	stp	x25, x26, [sp, #48]
	stp	x27, x28, [sp, #64]
	stp	x29, x30, [sp, #80]
	stp	d8, d9, [sp, #96]
	stp	d10, d11, [sp, #112]
	stp	d12, d13, [sp, #128]
	stp	d14, d15, [sp, #144]
	mrs	x9, fpcr
	str	x9, [sp, #160]
	mov	x9, sp
	str	x9, [x0]
	mov	sp, x1
	ldp	x19, x20, [sp, #0]
	ldp	x21, x22, [sp, #16]
	ldp	x23, x24, [sp, #32]
	ldp	x25, x26, [sp, #48]
	ldp	x27, x28, [sp, #64]
	ldp	x29, x30, [sp, #80]
	ldp	d8, d9, [sp, #96]
	ldp	d10, d11, [sp, #112]
	ldp	d12, d13, [sp, #128]
	ldp	d14, d15, [sp, #144]
	ldr	x9, [sp, #160]
	msr	fpcr, x9
	add	sp, sp, #176
	mov	x0, x2
	ret
	.cfi_endproc
	.size	weft_fiber_switch_asm, .-weft_fiber_switch_asm
#endif
	.section .note.GNU-stack,"",%progbits
