/*
 * Promela model of weft_brwlock's protocol (sync/brwlock.c, include/weft/brwlock.h):
 * the writer claims wflag by CAS 0 -> WRITER and drains the used slots; own-slot readers
 * take the inline path (look at the slot and at wflag, announce with a store, check wflag)
 * and leave with the inline load + plain store, or out of line by CAS when a writer left
 * SLEEP in the slot; readers of the shared slot go by CAS; waiters park on wflag with WAIT
 * (woken all at once by the leaving writer); a draining writer sets SLEEP in the slot by
 * CAS and naps on it. weft_unpark is modelled as "wake everyone parked on the address", a
 * superset of the real behaviour for these callers. Every step is sequentially consistent
 * (so the model checks the protocol, not the C11 orderings, which brwlock.c argues next to
 * each atomic: the Dekker pairs are seq_cst there).
 *
 * Checked: a writer never shares the lock (assertions in the sections), no deadlock and no
 * lost wake-up (no invalid end state: every process finishes), and at the end wflag is 0,
 * every slot is back to REG with no SLEEP left (invariant 3), and nobody is parked.
 *
 * Options: NR own-slot readers, SH shared-slot readers, NW writers, ITERS rounds each;
 * WCANC: the last writer may be cancelled at any moment while it is parked; NEST: own-slot
 * readers take a nested read lock inside; NONAP: a writer's nap on a slot never ends by
 * itself (otherwise it may end when nothing else can move: Promela's timeout); ATOMIC_UNLOCK:
 * the inline unlock's load and store are one step.
 * Expected: without NONAP, no errors. With NONAP, the lost wake of brwlock.c's invariant 5
 * is found (a writer sets SLEEP between a leaving reader's load and its plain store; only
 * the nap ends its sleep); with NONAP and ATOMIC_UNLOCK, no errors: that window is the only
 * place a wake is lost.
 * Not part of the build (spin is not a dependency). To run:
 *   spin -DNR=2 -DSH=1 -DNW=2 -DWCANC -a brwlock.pml
 *   gcc -O2 -DSAFETY -DCOLLAPSE -o pan pan.c && ./pan -m100000
 *   (bigger configurations: add -DMEMLIM=1500 and mind the memory; -DBITSTATE for a sample)
 * Results (spin 6.5.2, exhaustive, -DSAFETY -DCOLLAPSE):
 *   NR=1 SH=1 NW=1: 47,293 states, 0 errors;
 *   NR=1 SH=1 NW=1 NONAP: invalid end state at depth 76 (the invariant-5 window: the
 *     reader loads its slot, the writer CASes SLEEP in and parks, the reader stores);
 *   NR=1 SH=1 NW=1 NONAP ATOMIC_UNLOCK: 45,574 states, 0 errors;
 *   NR=1 SH=1 NW=2 WCANC: 4,164,385 states, 0 errors;
 *   NR=2 SH=0 NW=2 WCANC NEST: 9,073,411 states, 0 errors;
 *   NR=2 SH=0 NW=2 WCANC NEST NONAP ATOMIC_UNLOCK: 8,017,893 states, 0 errors.
 *   NR=2 SH=1 NW=2 WCANC: over 60 million states in 280 s, no error, not completed.
 * Mutation checks (each found): a reader that does not re-check wflag after announcing
 * (own slot, or shared slot): assertion violated; brw_leave without its wake, or a retreat
 * by load + store instead of an exchange (NONAP ATOMIC_UNLOCK): invalid end state; a
 * leaving writer that does not wake wflag's parkers: invalid end state.
 */
#ifndef NR
#define NR 2
#endif
#ifndef SH
#define SH 1
#endif
#ifndef NW
#define NW 2
#endif
#ifndef ITERS
#define ITERS 1
#endif
#ifdef NONAP
#define CAN_NAP false
#else
#define CAN_NAP true
#endif

#define WRITER 1
#define WAIT 2
#define SLEEP 4
#define CNT 3

#define NS (NR + 1)        /* slot 0: shared; 1..NR: own */
#define NP (NR + SH + NW)  /* processes 1..NP; init is 0 */
#define A_WFLAG 1          /* parking addresses; slot k is 2 + k */

byte wflag = 0;
byte slot[NS];             /* CNT: read locks; SLEEP; REG is implicit (always registered) */
bool used[NS];
byte q[NP + 1];            /* parked on: 0 = not parked */
byte readers_in = 0;
byte writers_in = 0;

/* weft_unpark(addr, all) */
inline unpark(addr)
{
	atomic {
		j = 1;
		do
		:: j <= NP ->
			if
			:: q[j] == addr -> q[j] = 0
			:: else -> skip
			fi;
			j++
		:: else -> break
		od
	}
}

/* weft_park: r = 0 woken (or the value differed), 1 cancelled, 2 nap over */
inline park(addr, cur, expected, can_cancel, can_nap)
{
	atomic {
		if
		:: (cur) == (expected) -> q[_pid] = addr
		:: else -> skip
		fi
	}
	if
	:: q[_pid] == 0 -> r = 0
	:: can_cancel -> atomic { q[_pid] = 0; r = 1 }
	:: can_nap && timeout -> atomic { q[_pid] = 0; r = 2 }
	fi
}

/* brw_wait_writer (the spin before parking is left out: it only delays) */
inline wait_writer(can_cancel)
{
	r = 0;
	do
	:: f = wflag;
		if
		:: !(f & WRITER) -> break
		:: else ->
			atomic {
				if
				:: wflag == f -> wflag = f | WAIT; ok = true
				:: else -> ok = false
				fi
			}
			if
			:: ok ->
				park(A_WFLAG, wflag, f | WAIT, can_cancel, false);
				if
				:: r == 1 -> break
				:: else -> skip
				fi
			:: else -> skip
			fi
		fi
	od
}

/* brw_leave: CAS decrement; the count reaching 0 clears SLEEP and wakes the sleeper */
inline leave(k)
{
	atomic {
		v = slot[k];
		n = v - 1;
		if
		:: (n & CNT) == 0 -> n = n & ~SLEEP
		:: else -> skip
		fi;
		slot[k] = n
	}
	if
	:: (v & SLEEP) && !(n & SLEEP) -> unpark(2 + k)
	:: else -> skip
	fi
}

/* writer leaving (brw_release / wrunlock) */
inline release()
{
	atomic { f = wflag; wflag = 0 }
	if
	:: f & WAIT -> unpark(A_WFLAG)
	:: else -> skip
	fi
}

inline read_section()
{
	atomic { assert(writers_in == 0); readers_in++ }
	atomic { assert(writers_in == 0); readers_in-- }
}

/* own-slot unlock: inline when the slot holds exactly one lock and no SLEEP, else out of
 * line (a plain store for a nested lock without SLEEP, else leave) */
inline own_unlock(k)
{
#ifdef ATOMIC_UNLOCK
	atomic {
		v = slot[k];
		if
		:: v == 1 -> slot[k] = 0
		:: (v & CNT) > 1 && !(v & SLEEP) -> slot[k] = v - 1
		:: else -> skip
		fi
	}
	if
	:: v == 1 || ((v & CNT) > 1 && !(v & SLEEP)) -> skip
	:: else -> leave(k)
	fi
#else
	v = slot[k];
	if
	:: v == 1 -> slot[k] = 0
	:: (v & CNT) > 1 && !(v & SLEEP) -> slot[k] = v - 1
	:: else -> leave(k)
	fi
#endif
}

proctype OwnReader(byte k)
{
	byte it = 0, v, n, f, r, j;
	bool ok, announced;
	used[k] = true; /* the first use marks the slot before announcing */
	do
	:: it < ITERS ->
		/* inline rdlock */
		announced = false;
		v = slot[k];
		if
		:: v == 0 ->
			f = wflag;
			if
			:: f == 0 ->
				slot[k] = 1;
				if
				:: wflag == 0 -> goto inside
				:: else -> announced = true
				fi
			:: else -> skip
			fi
		:: else -> skip
		fi;
		/* weft_brwlock_rdlock_slow_ */
		do
		:: true ->
			if
			:: announced ->
				atomic { v = slot[k]; slot[k] = 0 } /* brw_retreat: exchange */
				if
				:: v & SLEEP -> unpark(2 + k)
				:: else -> skip
				fi
			:: else -> skip
			fi;
			wait_writer(false);
			slot[k] = 1;
			if
			:: wflag == 0 -> break
			:: else -> announced = true
			fi
		od;
inside:
		read_section();
#ifdef NEST
		atomic { slot[k] = slot[k] + 1 } /* nested: fetch_add keeps SLEEP */
		read_section();
		own_unlock(k);
#endif
		own_unlock(k);
		it++
	:: else -> break
	od
}

proctype SharedReader()
{
	byte it = 0, v, n, f, r, j;
	bool ok;
	used[0] = true;
	do
	:: it < ITERS ->
		do
		:: true ->
			wait_writer(false);
			atomic { slot[0] = slot[0] + 1 } /* CAS increment */
			if
			:: wflag == 0 -> break
			:: else -> leave(0)
			fi
		od;
		read_section();
		leave(0);
		it++
	:: else -> break
	od
}

proctype Writer(bool can_cancel)
{
	byte it = 0, v, n, f, r, j, k;
	bool ok;
	do
	:: it < ITERS ->
		/* brw_claim */
		do
		:: atomic {
				if
				:: wflag == 0 -> wflag = WRITER; ok = true
				:: else -> ok = false
				fi
			}
			if
			:: ok -> break
			:: else ->
				wait_writer(can_cancel);
				if
				:: r == 1 -> goto gave_up
				:: else -> skip
				fi
			fi
		od;
		/* brw_drain */
		k = 0;
		do
		:: k < NS ->
			if
			:: used[k] ->
				v = slot[k];
				do
				:: (v & CNT) == 0 -> break
				:: else ->
					if
					:: true -> r = 0 /* spin: look again */
					:: (v & SLEEP) ->
						park(2 + k, slot[k], v, can_cancel, CAN_NAP)
					:: !(v & SLEEP) ->
						atomic {
							if
							:: slot[k] == v -> slot[k] = v | SLEEP; ok = true
							:: else -> ok = false
							fi
						}
						if
						:: ok -> park(2 + k, slot[k], v | SLEEP, can_cancel, CAN_NAP)
						:: else -> r = 0
						fi
					fi;
					if
					:: r == 1 -> release(); goto gave_up
					:: else -> skip
					fi;
					v = slot[k]
				od
			:: else -> skip
			fi;
			k++
		:: else -> break
		od;
		atomic { assert(readers_in == 0 && writers_in == 0); writers_in++ }
		atomic { assert(readers_in == 0); writers_in-- }
		release();
gave_up:
		r = 0;
		it++
	:: else -> break
	od
}

init
{
	byte i;
	atomic {
		i = 1;
		do
		:: i <= NR -> run OwnReader(i); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < SH -> run SharedReader(); i++
		:: else -> break
		od;
		i = 0;
		do
		:: i < NW ->
#ifdef WCANC
			run Writer(i == NW - 1);
#else
			run Writer(false);
#endif
			i++
		:: else -> break
		od
	}
	_nr_pr == 1;
	assert(wflag == 0);
	i = 0;
	do
	:: i < NS -> assert(slot[i] == 0); i++
	:: else -> break
	od;
	i = 1;
	do
	:: i <= NP -> assert(q[i] == 0); i++
	:: else -> break
	od
}
