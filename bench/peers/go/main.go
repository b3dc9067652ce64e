// go_peer: the sched suite's Go peer (bench/suite_sched.c). The same jobs as weft's, written
// with goroutines: fork/join fib with a goroutine and a sync.WaitGroup per call, a 10-ary
// skynet tree whose nodes gather their children's sums through a channel, spawn (one
// goroutine starts n goroutines that each count), and yield (goroutines calling
// runtime.Gosched). Standard library only.
//
//	go_peer [-workers N] [-reps R] fib 18       one job R times; prints the checked sum
//	go_peer [-workers N] [-reps R] skynet 10000  and the best and mean time per job
//	go_peer [-workers N] [-reps R] spawn 5000
//	go_peer [-workers N] [-reps R] yield 200
//	go_peer [-workers N] [-reps R] pingpong 10000 (the fiber suite's channel ping-pong)
//	go_peer serve N                              the harness's mode (below)
//
// serve: GOMAXPROCS=N; reads one job a line from stdin ("fib 18", "skynet 10000",
// "spawn 5000", "yield 200 TASKS") and answers each with "RESULT NS" (the job's sum or
// count and the nanoseconds it took inside Go), or "error WHY". It exits at end of input.
// weft-bench checks every RESULT itself; the one-shot mode checks it here and exits 1 on a
// wrong answer.
package main

import (
	"bufio"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

func fib(n int) uint64 {
	if n < 2 {
		return uint64(n)
	}
	var a uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		a = fib(n - 1)
		wg.Done()
	}()
	b := fib(n - 2)
	wg.Wait()
	return a + b
}

func skynet(c chan<- uint64, num, size uint64) {
	if size == 1 {
		c <- num
		return
	}
	size /= 10
	rc := make(chan uint64, 10)
	for i := uint64(0); i < 10; i++ {
		go skynet(rc, num+i*size, size)
	}
	var sum uint64
	for i := 0; i < 10; i++ {
		sum += <-rc
	}
	c <- sum
}

func spawn(n uint64) uint64 {
	var count uint64
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // the root task, as in weft's job: it starts all the others
		for i := uint64(0); i < n; i++ {
			wg.Add(1)
			go func() {
				atomic.AddUint64(&count, 1)
				wg.Done()
			}()
		}
		wg.Done()
	}()
	wg.Wait()
	return atomic.LoadUint64(&count)
}

func yield(yields, tasks uint64) uint64 {
	var count uint64
	var wg sync.WaitGroup
	wg.Add(int(tasks))
	for i := uint64(0); i < tasks; i++ {
		go func() {
			for k := uint64(0); k < yields; k++ {
				runtime.Gosched()
			}
			atomic.AddUint64(&count, 1)
			wg.Done()
		}()
	}
	wg.Wait()
	return atomic.LoadUint64(&count)
}

// pingpong: two goroutines take turns n times each over two unbuffered channels; the
// turn count travels with the message and each side adds one, so the answer is 2n (the
// fiber suite's Go peer, bench/suite_fiber.c: one send and receive per switch of turn).
func pingpong(n uint64) uint64 {
	ping, pong := make(chan uint64), make(chan uint64)
	done := make(chan uint64)
	go func() {
		var t uint64
		for i := uint64(0); i < n; i++ {
			t = <-ping
			pong <- t + 1
		}
		done <- t
	}()
	var t uint64
	for i := uint64(0); i < n; i++ {
		ping <- t + 1
		t = <-pong
	}
	<-done
	return t
}

// run does one job; tasks is only used by yield (0: 2 x GOMAXPROCS, as weft's job).
func run(job string, n, tasks uint64) (uint64, error) {
	switch job {
	case "fib":
		if n > 40 {
			return 0, fmt.Errorf("fib %d is too large", n)
		}
		return fib(int(n)), nil
	case "skynet":
		for m := n; m > 1; m /= 10 {
			if m%10 != 0 {
				return 0, fmt.Errorf("skynet needs a power of 10, not %d", n)
			}
		}
		if n == 0 {
			return 0, fmt.Errorf("skynet needs a power of 10, not 0")
		}
		c := make(chan uint64, 1)
		go skynet(c, 0, n)
		return <-c, nil
	case "spawn":
		return spawn(n), nil
	case "pingpong":
		return pingpong(n), nil
	case "yield":
		if tasks == 0 {
			tasks = 2 * uint64(runtime.GOMAXPROCS(0))
		}
		return yield(n, tasks), nil
	}
	return 0, fmt.Errorf("unknown job %q (fib, skynet, spawn, yield)", job)
}

// expect is the right answer of a job (one-shot mode's check).
func expect(job string, n, tasks uint64) uint64 {
	switch job {
	case "fib":
		a, b := uint64(0), uint64(1)
		for i := uint64(0); i < n; i++ {
			a, b = b, a+b
		}
		return a
	case "skynet":
		return n * (n - 1) / 2
	case "spawn":
		return n
	case "pingpong":
		return 2 * n
	}
	if tasks == 0 {
		tasks = 2 * uint64(runtime.GOMAXPROCS(0))
	}
	return tasks
}

func serve() int {
	in := bufio.NewScanner(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	for in.Scan() {
		f := strings.Fields(in.Text())
		var n, tasks uint64
		var err error
		if len(f) < 2 || len(f) > 3 {
			err = fmt.Errorf("want JOB N [TASKS], got %q", in.Text())
		} else if n, err = strconv.ParseUint(f[1], 10, 64); err == nil && len(f) == 3 {
			tasks, err = strconv.ParseUint(f[2], 10, 64)
		}
		var r uint64
		t0 := time.Now()
		if err == nil {
			r, err = run(f[0], n, tasks)
		}
		ns := time.Since(t0).Nanoseconds()
		if err != nil {
			fmt.Fprintf(out, "error %v\n", err)
		} else {
			fmt.Fprintf(out, "%d %d\n", r, ns)
		}
		if out.Flush() != nil {
			return 1
		}
	}
	return 0
}

func main() {
	workers := flag.Int("workers", runtime.NumCPU(), "GOMAXPROCS")
	reps := flag.Int("reps", 10, "jobs to run (one-shot mode)")
	flag.Usage = func() {
		fmt.Fprintf(os.Stderr, "usage: go_peer [-workers N] [-reps R] fib|skynet|spawn|yield N\n"+
			"       go_peer serve WORKERS\n")
		flag.PrintDefaults()
	}
	flag.Parse()
	args := flag.Args()
	if len(args) != 2 {
		flag.Usage()
		os.Exit(2)
	}
	n, err := strconv.ParseUint(args[1], 10, 64)
	if err != nil || n == 0 || *workers < 1 || *reps < 1 {
		fmt.Fprintf(os.Stderr, "go_peer: bad number %q\n", args[1])
		os.Exit(2)
	}
	if args[0] == "serve" {
		runtime.GOMAXPROCS(int(n))
		os.Exit(serve())
	}
	runtime.GOMAXPROCS(*workers)
	want := expect(args[0], n, 0)
	var best, total time.Duration
	var r uint64
	for i := 0; i < *reps; i++ {
		t0 := time.Now()
		if r, err = run(args[0], n, 0); err != nil {
			fmt.Fprintf(os.Stderr, "go_peer: %v\n", err)
			os.Exit(2)
		}
		d := time.Since(t0)
		total += d
		if i == 0 || d < best {
			best = d
		}
		if r != want {
			fmt.Printf("%s %d: WRONG result %d, expected %d\n", args[0], n, r, want)
			os.Exit(1)
		}
	}
	fmt.Printf("%s %d: result %d (checked), workers %d, %d jobs: best %d ns/job, mean %d ns/job\n",
		args[0], n, r, *workers, *reps, best.Nanoseconds(), (total / time.Duration(*reps)).Nanoseconds())
}
