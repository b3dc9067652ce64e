/*
 * The fiber context switch for x86-64 System V (see runtime/fiber.h).
 *
 *   void *weft_fiber_switch_asm(void **save_sp, void *to_sp, void *arg);
 *   void *weft_fiber_switch_asm_ret(void **save_sp, void *to_sp, void *arg);
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
/* The body of both entry points; only the way out differs (see below). */
.macro WEFT_SWITCH_BODY
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
.endm

	.text
	.globl	weft_fiber_switch_asm
	.hidden	weft_fiber_switch_asm
	.type	weft_fiber_switch_asm, @function
	.p2align 4
weft_fiber_switch_asm:
	.cfi_startproc
	WEFT_SWITCH_BODY
	/* pop + indirect jmp, not ret: a ret here misses in the return stack buffer whenever
	 * the other fiber is suspended at another call site (it returns there), while the
	 * indirect-branch predictor learns where switches go (Boost.Context does the same);
	 * ~2x faster for two fibers switching from different places. */
	popq	%r8
	movq	%rdx, %rax
	movq	%rdx, %rdi
	jmp	*%r8
	.cfi_endproc
	.size	weft_fiber_switch_asm, .-weft_fiber_switch_asm

/*
 *   void *weft_fiber_switch_asm_ret(void **save_sp, void *to_sp, void *arg);
 * The same switch, left with a ret: the return stack buffer then predicts the resumed
 * fiber's return addresses from the switcher's own calls, right as far up as the two call
 * chains agree (two tasks parking in turn through the same code, the scheduler's hand-off
 * path). The jmp above leaves the buffer one entry off, so that every return of the
 * resumed fiber up its chain mispredicts (fiber.h, weft_fiber_switch_sym).
 */
	.globl	weft_fiber_switch_asm_ret
	.hidden	weft_fiber_switch_asm_ret
	.type	weft_fiber_switch_asm_ret, @function
	.p2align 4
weft_fiber_switch_asm_ret:
	.cfi_startproc
	WEFT_SWITCH_BODY
	movq	%rdx, %rax
	movq	%rdx, %rdi
	ret
	.cfi_endproc
	.size	weft_fiber_switch_asm_ret, .-weft_fiber_switch_asm_ret
#endif
	.section .note.GNU-stack,"",%progbits
