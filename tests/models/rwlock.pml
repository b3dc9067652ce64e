/*
 * Promela model of weft_rwlock's wait / wake / give-up protocol (sync/rwlock.c) over the
 * parking lot (sync/parking_lot.c): readers park on `state`, writers on `writer_seq`;
 * weft_unpark wakes any one (not only the oldest) waiter, a superset of the real FIFO;
 * a cancellable caller may be cancelled before or while it is parked. Checked: mutual
 * exclusion (assertions in the sections), no lost wake-up (no invalid end state: every
 * process finishes), and the lock word back to 0 with nobody queued at the end.
 * Not part of the build (spin is not a dependency). To run:
 *   spin -DNR=1 -DRCANC=1 -DRITERS=2 -DWITERS=1 -DW2CANC=1 -DTRY=0 -a rwlock.pml
 *   gcc -O2 -DSAFETY -DVECTORSZ=4096 -DCOLLAPSE -o pan pan.c && ./pan
 * Results (spin 6.5.2): NR=1 RCANC=0 RITERS=1 WITERS=1 W2CANC=0 TRY=0: 310,490 states,
 * 0 errors (exhaustive); NR=1 RCANC=1 RITERS=2 WITERS=1 W2CANC=1 TRY=0: 6,400,342 states,
 * 0 errors (exhaustive); NR=2 RCANC=1 RITERS=1 WITERS=1 W2CANC=1 TRY=1: bitstate (-DBITSTATE,
 * -w30), over 60 million states in 400 s, 0 errors, search not completed.
 * Mutation check: removing the writer wake from rw_abandon is found (invalid end state at
 * depth 81) in the first configuration.
 */
#define NP 5
#define RMASK 7
#define RW 8
#define WW 16
#define WR 32
#define A_STATE 1
#define A_SEQ 2
#define CANCEL 1

int state = 0;
byte seq = 0;
byte q[NP];       /* address a process is queued on, 0 = none */
bool woken[NP];
bool cancelled[NP];
byte readers_in = 0;
byte writers_in = 0;
byte done = 0;

inline cas(exp, nv, ok) {
	atomic { if :: state == exp -> state = nv; ok = 1 :: else -> exp = state; ok = 0 fi }
}

/* park on addr while its value == expected; r = 0 or CANCEL */
inline park(p, addr, expected, canc, r) {
	r = 0;
	if
	:: canc && !cancelled[p] -> cancelled[p] = 1
	:: true -> skip
	fi;
	if
	:: cancelled[p] -> r = CANCEL
	:: else ->
		atomic {
			if
			:: (addr == A_STATE && state != expected) || (addr == A_SEQ && seq != expected) -> r = 2
			:: else -> q[p] = addr
			fi
		}
		if
		:: r == 2 -> r = 0
		:: else ->
			if
			:: woken[p] -> woken[p] = 0
			:: canc && !cancelled[p] ->
				cancelled[p] = 1;
				atomic { if :: q[p] != 0 -> q[p] = 0; r = CANCEL :: else -> skip fi };
				if :: r != CANCEL -> woken[p]; woken[p] = 0 :: else -> skip fi
			fi
		fi
	fi
}

inline unpark_one(addr, n) {
	atomic {
		n = 0;
		if
		:: q[0] == addr -> q[0] = 0; woken[0] = 1; n = 1
		:: q[1] == addr -> q[1] = 0; woken[1] = 1; n = 1
		:: q[2] == addr -> q[2] = 0; woken[2] = 1; n = 1
		:: q[3] == addr -> q[3] = 0; woken[3] = 1; n = 1
		:: q[4] == addr -> q[4] = 0; woken[4] = 1; n = 1
		:: else -> skip
		fi
	}
}

inline unpark_all(addr) {
	atomic {
		i = 0;
		do
		:: i < NP -> if :: q[i] == addr -> q[i] = 0; woken[i] = 1 :: else -> skip fi; i++
		:: else -> break
		od
	}
}

inline wake_writer(n) {
	atomic { seq++ };
	unpark_one(A_SEQ, n)
}

inline rw_wake(s) {
	do
	:: (s & (WR | RMASK)) != 0 || (s & (WW | RW)) == 0 -> break
	:: else ->
		if
		:: (s & WW) != 0 ->
			cas(s, s & ~WW, ok);
			if
			:: ok -> wake_writer(n);
				if :: n > 0 -> break :: else -> s = state fi
			:: else -> skip
			fi
		:: else ->
			cas(s, s & ~RW, ok);
			if :: ok -> unpark_all(A_STATE); break :: else -> skip fi
		fi
	od
}

inline abandon() {
	s = state;
	do
	:: (s & WW) != 0 -> cas(s, s & ~WW, ok)
	:: else -> break
	od;
	wake_writer(n);
	if
	:: n == 0 ->
		s = state;
		do
		:: (s & (WR | WW)) == 0 && (s & RW) != 0 ->
			cas(s, s & ~RW, ok);
			if :: ok -> unpark_all(A_STATE); break :: else -> skip fi
		:: else -> break
		od
	:: else -> skip
	fi
}

proctype reader(byte p; bool canc; byte iters) {
	int s; bool ok; byte r, n, i, it = 0;
	do
	:: it == iters -> break
	:: else ->
		it++;
		s = state;
		do
		:: (s & (WR | WW)) == 0 ->
			cas(s, s + 1, ok);
			if :: ok -> r = 0; break :: else -> skip fi
		:: else ->
			if
			:: (s & RW) == 0 -> cas(s, s | RW, ok)
			:: else -> ok = 1
			fi;
			if
			:: ok -> park(p, A_STATE, s | RW, canc, r);
				if :: r == CANCEL -> break :: else -> s = state fi
			:: else -> skip
			fi
		od;
		if
		:: r == 0 ->
			readers_in++;
			assert(writers_in == 0);
			readers_in--;
			/* rdunlock */
			atomic { s = state; state = state - 1 };
			if
			:: (s & (WW | RW)) != 0 && ((s - 1) & RMASK) == 0 -> s = s - 1; rw_wake(s)
			:: else -> skip
			fi
		:: else -> skip
		fi
	od;
	done++
}

proctype writer(byte p; bool canc; byte iters; bool trylock) {
	int s; bool ok; byte r, n, i, sq, wb, it = 0;
	do
	:: it == iters -> break
	:: else ->
		it++;
		wb = 0;
		r = 0;
		if
		:: trylock ->
			s = state;
			do
			:: (s & (WR | RMASK)) != 0 -> r = 2; break
			:: else -> cas(s, s | WR, ok); if :: ok -> break :: else -> skip fi
			od
		:: else ->
			do
			:: true ->
				sq = seq;
				s = state;
				if
				:: (s & (WR | RMASK)) == 0 ->
					cas(s, s | WR | wb, ok);
					if :: ok -> break :: else -> skip fi
				:: else ->
					if
					:: (s & WW) == 0 -> cas(s, s | WW, ok)
					:: else -> ok = 1
					fi;
					if
					:: ok ->
						park(p, A_SEQ, sq, canc, r);
						wb = WW;
						if :: r == CANCEL -> abandon(); break :: else -> skip fi
					:: else -> skip
					fi
				fi
			od
		fi;
		if
		:: r == 0 ->
			writers_in++;
			assert(writers_in == 1 && readers_in == 0);
			writers_in--;
			/* wrunlock */
			atomic { s = state; state = state & ~WR };
			s = s & ~WR;
			rw_wake(s)
		:: else -> skip
		fi
	od;
	done++
}

init {
	atomic {
		run reader(0, RCANC, RITERS);
#if NR > 1
		run reader(1, 0, RITERS);
#endif
		run writer(2, 1, WITERS, 0);
		run writer(3, W2CANC, WITERS, 0);
#if TRY
		run writer(4, 0, 1, 1);
#endif
	}
	done == 3 + (NR - 1) + TRY;
	assert(state == 0);
	assert(q[0] + q[1] + q[2] + q[3] + q[4] == 0)
}
