package kernel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// The worker pool: threads-1 long-lived goroutines plus the calling goroutine share the work of
// one parallel call. A call hands out chunks through an atomic counter, so uneven chunks balance.

var pool struct {
	mu      sync.Mutex // serialises parallel calls (one parallel region at a time)
	threads atomic.Int32
	workers int // goroutines started
	jobs    chan *job
}

type job struct {
	next  atomic.Int64
	n     int
	fn    func(lo, hi int)
	grain int
	wg    sync.WaitGroup
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
		pool.jobs = make(chan *job, 64)
	}
	for pool.workers < n-1 {
		pool.workers++
		go worker()
	}
	pool.threads.Store(int32(n))
}

// Threads reports the number of threads the parallel kernels use.
func Threads() int { return int(pool.threads.Load()) }

func worker() {
	for j := range pool.jobs {
		j.run()
		j.wg.Done()
	}
}

func (j *job) run() {
	for {
		lo := int(j.next.Add(int64(j.grain))) - j.grain
		if lo >= j.n {
			return
		}
		j.fn(lo, min(lo+j.grain, j.n))
	}
}

var jobPool = sync.Pool{New: func() any { return new(job) }}

// Parallel calls fn over [0, n) split into chunks of at least grain items, on up to Threads()
// threads, and returns when every chunk is done. fn must be safe to call concurrently on
// disjoint ranges. Small n (n <= grain) or one thread runs fn(0, n) inline.
func Parallel(n, grain int, fn func(lo, hi int)) {
	if grain < 1 {
		grain = 1
	}
	t := Threads()
	if t <= 1 || n <= grain {
		if n > 0 {
			fn(0, n)
		}
		return
	}
	// Aim for a few chunks per thread so uneven work balances, but never below grain.
	chunk := max(grain, (n+4*t-1)/(4*t))
	chunks := (n + chunk - 1) / chunk
	helpers := min(t-1, chunks-1)
	if !pool.mu.TryLock() {
		// Already inside a parallel region (nested call): run inline.
		fn(0, n)
		return
	}
	j := jobPool.Get().(*job)
	j.n, j.fn, j.grain = n, fn, chunk
	j.next.Store(0)
	j.wg.Add(helpers)
	for i := 0; i < helpers; i++ {
		pool.jobs <- j
	}
	j.run()
	j.wg.Wait()
	j.fn = nil
	pool.mu.Unlock()
	jobPool.Put(j)
}
