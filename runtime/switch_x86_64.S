/*
 * The fiber context switch for x86-64 System V (see runtime/fiber.h).
 *
 *   void *weft_fiber_switch_asm(void **save_sp, void *to_sp, void *arg);
 *
 * Pushes the callee-saved registers (rbp, rbx, r12-r15) and the FP control words (MXCSR,
 * x87 control word) on the running stack, stores the stack pointer into *save_sp, loads
 * to_sp and pops the same frame from there. Returns arg in the resumed context (rax), and
 * also leaves it in rdi, so a fresh fiber's entry function receives it as its argument.
 * Caller-saved registers need no saving: the switch is an ordinary call to the compiler.
 *
 * Frame at a suspended fiber's saved stack pointer (fiber.c builds the same for a fresh one):
 *   sp+0   MXCSR (4 bytes)      sp+4  x87 control word (2 bytes)   sp+8 (8 bytes unused)
 *   sp+16  r15   sp+24 r14   sp+32 r13   sp+40 r12   sp+48 rbx   sp+56 rbp
 *   sp+64  return address
 */
#if defined(__x86_64__) && !defined(WEFT_FIBER_UCONTEXT)
	.text
	.globl	weft_fiber_switch_asm
	.hidden	weft_fiber_switch_asm
	.type	weft_fiber_switch_asm, @function
	.p2align 4
weft_fiber_switch_asm:
	.cfi_startproc
	pushq	%rbp
	pushq	%rbx
	pushq	%r12
	pushq	%r13
	pushq	%r14
	pushq	%r15
	subq	$16, %rsp
	stmxcsr	(%rsp)
	fnstcw	4(%rsp)
	movq	%rsp, (%rdi)
	movq	%rsi, %rsp
	ldmxcsr	(%rsp)
	fldcw	4(%rsp)
	addq	$16, %rsp
	popq	%r15
	popq	%r14
	popq	%r13
	popq	%r12
	popq	%rbx
	popq	%rbp
	/* pop + indirect jmp, not ret: a ret here would always miss in the return stack
	 * buffer (it returns to the other fiber's call site), while the indirect-branch
	 * predictor learns where switches go (Boost.Context does the same); ~2x faster. */
	popq	%r8
	movq	%rdx, %rax
	movq	%rdx, %rdi
	jmp	*%r8
	.cfi_endproc
	.size	weft_fiber_switch_asm, .-weft_fiber_switch_asm
#endif
	.section .note.GNU-stack,"",%progbits
