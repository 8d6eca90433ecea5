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
	steps    []Step
	one      [1]Step        // the step of a ParallelTask
	next     []atomic.Int64 // per step: the next item to hand out
	finished []atomic.Int64 // per step: the items done
	gen      uint64
	state    atomic.Uint64
	done     chan struct{} // the last helper to leave a closed job signals here

	// Threads waiting in waitStep for a step that takes long sleep on woken; sleepers counts
	// them (and any about to sleep), so that finishing a step costs nothing when none do.
	sleepers atomic.Int32
	sleepMu  sync.Mutex // held while a sleeper looks at the step, and to wake the sleepers
	woken    sync.Cond  // on sleepMu; broadcast when a step finishes while a thread sleeps
}

// A Step is one parallel loop of a region (RunSteps): Task.Run over items [0, N), handed out
// Grain at a time (below 1: one at a time).
type Step struct {
	N, Grain int
	Task     Task
	// Prefetch, if set, is called by a thread that waits for the steps before this one to
	// finish, with items it takes now and will run first when the step opens: it may fetch
	// their data (weights streamed from memory) meanwhile. It must only read.
	Prefetch func(lo, hi int)
}

// take hands out the next items of step i: [lo, hi), or ok false when none are left.
func (j *job) take(i int) (lo, hi int, ok bool) {
	st := &j.steps[i]
	grain := max(st.Grain, 1)
	lo = int(j.next[i].Add(int64(grain))) - grain
	return lo, min(lo+grain, st.N), lo < st.N
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
	var claim struct{ step, lo, hi int } // items this thread took early (see prefetch)
	claim.step = -1
	for i := range j.steps {
		st := &j.steps[i]
		if i > 0 && j.finished[i-1].Load() < int64(j.steps[i-1].N) {
			if claim.step < i {
				claim.step, claim.lo, claim.hi = j.prefetch(i)
			}
			j.waitStep(i - 1)
		}
		if claim.step == i {
			st.Task.Run(claim.lo, claim.hi)
			j.finish(i, claim.hi-claim.lo)
		}
		for lo, hi, ok := j.take(i); ok; lo, hi, ok = j.take(i) {
			st.Task.Run(lo, hi)
			j.finish(i, hi-lo)
		}
	}
}

// finish counts k more items of step i done; the thread that finishes the step wakes the
// threads asleep in waitStep, each of which looks again at the step it waits for.
func (j *job) finish(i, k int) {
	if j.finished[i].Add(int64(k)) == int64(j.steps[i].N) && j.sleepers.Load() > 0 {
		j.sleepMu.Lock()
		j.woken.Broadcast()
		j.sleepMu.Unlock()
	}
}

// prefetch finds the first step from i on with a Prefetch, takes its next items for this
// thread to run when the step opens, and prefetches them; it returns the step and the items,
// or a step of −1 when there is none to take. Taking the items makes sure the thread that
// fetched them is the one that uses them.
func (j *job) prefetch(i int) (step, lo, hi int) {
	for ; i < len(j.steps); i++ {
		if j.steps[i].Prefetch == nil {
			continue
		}
		lo, hi, ok := j.take(i)
		if !ok {
			break
		}
		j.steps[i].Prefetch(lo, hi)
		return i, lo, hi
	}
	return -1, 0, 0
}

// waitStep waits until every item of step i is done. The steps are short (a LayerNorm, a
// slice of a matrix–vector product), so the thread spins; but once stepSpin has passed it
// sleeps until a step finishes. On a machine with more runnable threads than cores the
// thread that holds the last item may have lost its core, and a spinning waiter would keep
// it off for a whole time slice: with a busy loop on one of two cores, decoding in one
// region ran at 69 tokens/s spinning where the graph, whose helpers park, ran 112.
func (j *job) waitStep(i int) {
	n := int64(j.steps[i].N)
	var start time.Time
	for k := 1; j.finished[i].Load() < n; k++ {
		if k%256 != 0 {
			continue
		}
		if start.IsZero() {
			start = time.Now()
			continue
		}
		if time.Since(start) < stepSpin {
			continue
		}
		// Sleep: register, then look again under sleepMu, so that either this thread sees the
		// step done or the thread that finishes it sees a sleeper and wakes it, which it can
		// only do once this thread waits (or has let go of sleepMu seeing the step done).
		// The wake-up is a broadcast: every sleeper looks again, none can take another's.
		j.sleepers.Add(1)
		j.sleepMu.Lock()
		for j.finished[i].Load() < n {
			stepSleeps.Add(1)
			if h := beforeSleep; h != nil {
				h()
			}
			j.woken.Wait()
		}
		j.sleepMu.Unlock()
		j.sleepers.Add(-1)
	}
}

// stepSleeps counts the times a thread slept in waitStep.
var stepSleeps atomic.Int64

// beforeSleep, where set (by tests, while no region runs), is called by a thread in waitStep
// that has seen its step unfinished, just before it sleeps.
var beforeSleep func()

// stepSpin is how long waitStep spins before it sleeps: longer than most steps take on an
// idle machine, short against the time slice a descheduled thread waits for.
const stepSpin = 50 * time.Microsecond

// open prepares j for steps.
func (j *job) open(steps []Step) {
	j.steps = steps
	if len(j.next) < len(steps) {
		j.next = make([]atomic.Int64, len(steps))
		j.finished = make([]atomic.Int64, len(steps))
	}
	for i := range steps {
		j.next[i].Store(0)
		j.finished[i].Store(0)
	}
	j.gen = (j.gen + 1) & (1<<(64-jobGenShift) - 1)
	j.state.Store(j.gen << jobGenShift)
}

// theJob is the one job, used by one parallel call at a time (under pool.mu); its generation
// tells helpers holding tickets of an earlier use that they are late.
var theJob = newJob()

func newJob() *job {
	j := &job{done: make(chan struct{}, 1)}
	j.woken.L = &j.sleepMu
	return j
}

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
	if !pool.mu.TryLock() {
		// Already inside a parallel region (a nested call): run inline.
		task.Run(0, n)
		return
	}
	j := theJob
	j.one[0] = Step{N: n, Grain: chunk, Task: task}
	j.start(j.one[:], min(t-1, (n+chunk-1)/chunk-1))
}

// RunSteps runs steps one after another in a single parallel region: the threads are woken
// once, share the items of each step, and start a step only when every item of the steps
// before it is done. A step of one item runs on one thread while the others wait (or prefetch
// for the steps after it, see Step.Prefetch). This is how a decoding step runs a whole layer,
// its LayerNorms, matrix–vector products and attention, without waking the pool for each.
// On one thread, or inside a region (a nested call), the steps run inline, in order.
func RunSteps(steps []Step) {
	helpers := 0
	for _, st := range steps {
		helpers = max(helpers, (st.N+max(st.Grain, 1)-1)/max(st.Grain, 1)-1)
	}
	if helpers = min(Threads()-1, helpers); helpers < 1 || !pool.mu.TryLock() {
		for _, st := range steps {
			if st.N > 0 {
				st.Task.Run(0, st.N)
			}
		}
		return
	}
	theJob.start(steps, helpers)
}

// start runs the job's steps with up to helpers threads besides the caller, which holds
// pool.mu; it releases pool.mu.
func (j *job) start(steps []Step, helpers int) {
	j.open(steps)
	for range helpers {
		pool.jobs <- ticket{j, j.gen}
	}
	j.run()
	// Every item is taken; close the job and wait for the helpers still inside. They are
	// finishing their last items, so poll before parking: a parked thread is slow to wake.
	if s := j.state.Or(jobClosed); s&jobInside != 0 {
		j.wait()
	}
	j.steps, j.one[0] = nil, Step{}
	pool.mu.Unlock()
}
