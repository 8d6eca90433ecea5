package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// The worker pool: threads-1 long-lived goroutines plus the calling goroutine share the work of
// one parallel call. A call hands out chunks through an atomic counter, so uneven chunks balance.
//
// The caller never waits for a helper that has not started: each call posts tickets for its
// job, and a helper that picks one up only joins while the job is open. When the caller has
// run out of chunks it closes the job and waits only for helpers already inside, so a helper
// that is slow to wake (a parked thread, a busy machine) costs nothing.

var pool struct {
	mu      sync.Mutex // serialises parallel calls (one parallel region at a time)
	threads atomic.Int32
	workers int // goroutines started
	jobs    chan ticket
}

// A ticket invites a helper into one use of a job; gen tells a stale ticket from a current one.
type ticket struct {
	j   *job
	gen uint64
}

// Bits of job.state: the generation (which use of the job), a closed flag and the number of
// helpers inside run.
const (
	jobGenShift = 33
	jobClosed   = 1 << 32
	jobInside   = 1<<32 - 1
)

type job struct {
	next  atomic.Int64
	n     int
	task  Task
	grain int
	gen   uint64
	state atomic.Uint64
	done  chan struct{} // the last helper to leave a closed job signals here
}

func init() { SetThreads(runtime.GOMAXPROCS(0)) }

// SetThreads sets how many threads (the caller included) the parallel kernels use; n < 1 means 1.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	pool.mu.Lock()
	defer pool.mu.Unlock()
	if pool.jobs == nil {
		pool.jobs = make(chan ticket, 64)
	}
	for pool.workers < n-1 {
		pool.workers++
		go worker()
	}
	pool.threads.Store(int32(n))
}

// Threads reports the number of threads the parallel kernels use.
func Threads() int { return int(pool.threads.Load()) }

// workerSpin is how long an idle helper keeps polling for the next job before it parks.
// Parallel calls often come back to back (the matrix products of one decoding step), and
// waking a parked thread takes tens of microseconds: as long as a small GEMV takes.
const workerSpin = 200 * time.Microsecond

func worker() {
	for {
		t := nextTicket()
		if t.j.enter(t.gen) {
			t.j.run()
			t.j.leave()
		}
	}
}

// nextTicket waits for the next ticket: polling for up to workerSpin, then blocking. While
// polling it yields its thread now and then, so other goroutines are not held up for long.
func nextTicket() ticket {
	var start time.Time
	for i := 0; ; i++ {
		select {
		case t := <-pool.jobs:
			return t
		default:
		}
		switch {
		case i == 0:
			start = time.Now()
		case i%256 == 0:
			if time.Since(start) > workerSpin {
				return <-pool.jobs
			}
			if i%4096 == 0 {
				runtime.Gosched()
			}
		}
	}
}

// enter admits a helper holding a ticket for generation gen, unless the job has moved on
// or closed.
func (j *job) enter(gen uint64) bool {
	for {
		s := j.state.Load()
		if s>>jobGenShift != gen || s&jobClosed != 0 {
			return false
		}
		if j.state.CompareAndSwap(s, s+1) {
			return true
		}
	}
}

// leave lets a helper out; the last one out of a closed job wakes the caller.
func (j *job) leave() {
	if s := j.state.Add(^uint64(0)); s&jobClosed != 0 && s&jobInside == 0 {
		j.done <- struct{}{}
	}
}

// wait takes the signal of the last helper to leave, polling for up to workerSpin first.
func (j *job) wait() {
	start := time.Now()
	for i := 1; ; i++ {
		select {
		case <-j.done:
			return
		default:
		}
		if i%256 == 0 && time.Since(start) > workerSpin {
			<-j.done
			return
		}
	}
}

func (j *job) run() {
	for {
		lo := int(j.next.Add(int64(j.grain))) - j.grain
		if lo >= j.n {
			return
		}
		j.task.Run(lo, min(lo+j.grain, j.n))
	}
}

var jobPool = sync.Pool{New: func() any { return &job{done: make(chan struct{}, 1)} }}

// A Task is the body of a parallel loop: Run processes items [lo, hi), and must be safe to
// call concurrently on disjoint ranges.
type Task interface{ Run(lo, hi int) }

// Func is a function used as a Task.
type Func func(lo, hi int)

func (f Func) Run(lo, hi int) { f(lo, hi) }

// Parallel calls fn over [0, n) split into chunks of at least grain items, on up to Threads()
// threads, and returns when every chunk is done. fn must be safe to call concurrently on
// disjoint ranges. Small n (n <= grain) or one thread runs fn(0, n) inline.
//
// A closure handed to Parallel is allocated on the heap; code that runs every step uses
// ParallelPooled, which allocates nothing.
func Parallel(n, grain int, fn func(lo, hi int)) { ParallelTask(n, grain, Func(fn)) }

// ParallelPooled runs task as ParallelTask does, from a copy kept in tasks (a pool that holds
// only *T), so that a call allocates nothing once the pool is warm.
func ParallelPooled[T any, P interface {
	*T
	Task
}](tasks *sync.Pool, n, grain int, task T) {
	p, _ := tasks.Get().(P)
	if p == nil {
		p = new(T)
	}
	*p = task
	ParallelTask(n, grain, p)
	var zero T
	*p = zero // drop references to the caller's buffers
	tasks.Put(p)
}

// ParallelTask calls task.Run over [0, n) split into chunks of at least grain items, on up to
// Threads() threads, and returns when every chunk is done. Small n (n <= grain) or one thread
// runs task.Run(0, n) inline.
func ParallelTask(n, grain int, task Task) {
	if grain < 1 {
		grain = 1
	}
	t := Threads()
	if t <= 1 || n <= grain {
		if n > 0 {
			task.Run(0, n)
		}
		return
	}
	// Aim for a few chunks per thread so uneven work balances, but never below grain.
	chunk := max(grain, (n+4*t-1)/(4*t))
	chunks := (n + chunk - 1) / chunk
	helpers := min(t-1, chunks-1)
	if !pool.mu.TryLock() {
		// Already inside a parallel region (nested call): run inline.
		task.Run(0, n)
		return
	}
	j := jobPool.Get().(*job)
	j.n, j.task, j.grain = n, task, chunk
	j.next.Store(0)
	j.gen = (j.gen + 1) & (1<<(64-jobGenShift) - 1)
	j.state.Store(j.gen << jobGenShift)
	for range helpers {
		pool.jobs <- ticket{j, j.gen}
	}
	j.run()
	// Every chunk is taken; close the job and wait for the helpers still inside. They are
	// finishing their last chunks, so poll before parking: a parked thread is slow to wake.
	if s := j.state.Or(jobClosed); s&jobInside != 0 {
		j.wait()
	}
	j.task = nil
	pool.mu.Unlock()
	jobPool.Put(j)
}
