package serve

import (
	"context"
	"errors"
	"math"
	"sync"
	"sync/atomic"

	"github.com/qkvdev/qkv/autograd"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/nn"
	"github.com/qkvdev/qkv/reason/constrain"
	"github.com/qkvdev/qkv/sample"
	"github.com/qkvdev/qkv/textstream"
	"github.com/qkvdev/qkv/tokenizer"
)

// Continuous batching (Yu et al., 2022, "Orca"): one goroutine per model runs a loop in which
// every active sequence advances by one token per step, all of them in one batched forward
// pass (gpt.ForwardBatch). A request joins the batch at the next step after it arrives (its
// prompt is prefilled in that step) and leaves at the step it finishes, is cancelled or its
// client goes away, so a short request never waits for a long one to end.

// genRequest is one sequence to generate: one choice of a request.
type genRequest struct {
	ctx       context.Context
	index     int // the choice's index in its response
	prompt    []int
	maxTokens int
	sampler   *sample.Sampler
	presence  float64
	frequency float64
	bias      map[int]float64
	stops     []string
	logprobs  int              // alternatives to report per token; -1: no logprobs at all
	format    *constrain.State // response_format's masks in progress (nil: plain text)
	events    chan genEvent
}

// genEvent is what a sequence produced in one step: a token and the text it completed, or the
// end (finish set, or err).
type genEvent struct {
	index   int // the choice
	token   int
	text    string // text that became visible with this token (may be empty)
	logprob *tokenChoice
	finish  string // "stop" or "length" on the last event
	err     error
}

// tokenChoice is the log-probability of the chosen token and of the most likely alternatives.
type tokenChoice struct {
	id      int
	logprob float64
	top     []idLogprob
}

type idLogprob struct {
	id      int
	logprob float64
}

// send delivers ev; the channel has room for every event a sequence can produce.
func (r *genRequest) send(ev genEvent) {
	ev.index = r.index
	r.events <- ev
}

// errShuttingDown ends the sequences still running when the server's shutdown deadline passes.
var errShuttingDown = errors.New("the server is shutting down")

type scheduler struct {
	m        *gpt.Model
	tok      tokenizer.Tokenizer
	maxBatch int
	queue    chan *genRequest
	stop     chan struct{} // closed: finish what runs, accept nothing new
	abort    chan struct{} // closed: cancel what still runs
	done     chan struct{} // closed when the loop has returned
	closing  atomic.Bool
	once     sync.Once
	mu       sync.Mutex
	active   atomic.Int64 // sequences in the batch (for tests and /health)
	hook     func()       // tests: called before each step
	steps    atomic.Int64 // batched forward passes run
}

func newScheduler(m *gpt.Model, tok tokenizer.Tokenizer, maxBatch, queue int, hook func()) *scheduler {
	s := &scheduler{m: m, tok: tok, maxBatch: maxBatch, queue: make(chan *genRequest, queue), hook: hook,
		stop: make(chan struct{}), abort: make(chan struct{}), done: make(chan struct{})}
	go s.loop()
	return s
}

// submit queues the sequences of one request, all or none; false means the queue is full or
// the server is shutting down.
func (s *scheduler) submit(reqs []*genRequest) bool {
	s.mu.Lock() // only submit adds to the queue: room checked here stays room
	defer s.mu.Unlock()
	if s.closing.Load() || len(reqs) > cap(s.queue)-len(s.queue) {
		return false
	}
	for _, r := range reqs {
		s.queue <- r
	}
	return true
}

// close stops accepting sequences, lets the running ones finish until ctx is done, then
// cancels the rest, and returns once the loop has ended.
func (s *scheduler) close(ctx context.Context) {
	s.once.Do(func() {
		s.mu.Lock()
		s.closing.Store(true)
		s.mu.Unlock()
		close(s.stop)
	})
	select {
	case <-s.done:
	case <-ctx.Done():
		select {
		case <-s.abort:
		default:
			close(s.abort)
		}
		<-s.done
	}
}

// seq is a sequence in the batch.
type seq struct {
	r       *genRequest
	caches  []*nn.KVCache
	feed    []int // tokens to feed at the next step
	counts  map[int]int
	out     int // tokens generated
	stream  *textstream.Stream
	scratch []float32
}

func (s *scheduler) loop() {
	defer close(s.done)
	g := autograd.NewGraph()
	g.SetGrad(false)
	var batch []*seq
	eos := -1
	if s.m.Config.EOSTokenID != nil {
		eos = *s.m.Config.EOSTokenID
	}
	for {
		if s.hook != nil {
			s.hook()
		}
		// Admit: block when idle, else take what is waiting up to the batch size.
		if len(batch) == 0 {
			select {
			case r := <-s.queue:
				batch = append(batch, s.admit(r))
			case <-s.stop:
				s.drain()
				return
			}
		}
		for len(batch) < s.maxBatch {
			select {
			case r := <-s.queue:
				batch = append(batch, s.admit(r))
				continue
			default:
			}
			break
		}
		select {
		case <-s.abort:
			for _, q := range batch {
				q.r.send(genEvent{err: errShuttingDown})
			}
			s.drain()
			return
		default:
		}
		// Leave: sequences whose client went away.
		kept := batch[:0]
		for _, q := range batch {
			if err := q.r.ctx.Err(); err != nil {
				q.r.send(genEvent{err: err})
				continue
			}
			kept = append(kept, q)
		}
		clear(batch[len(kept):])
		batch = kept
		s.active.Store(int64(len(batch)))
		if len(batch) == 0 {
			continue
		}
		in := make([]gpt.BatchSeq, len(batch))
		for i, q := range batch {
			in[i] = gpt.BatchSeq{Caches: q.caches, IDs: q.feed}
		}
		g.Reset()
		logits, err := s.m.ForwardBatch(g, in)
		s.steps.Add(1)
		if err != nil { // checked at admission; end the batch rather than loop on it
			for _, q := range batch {
				q.r.send(genEvent{err: err})
			}
			batch = batch[:0]
			continue
		}
		V := s.m.Config.VocabSize
		data := logits.Value.Data()
		kept = batch[:0]
		for i, q := range batch {
			if s.next(q, data[i*V:(i+1)*V], eos) {
				kept = append(kept, q)
			}
		}
		clear(batch[len(kept):])
		batch = kept
		s.active.Store(int64(len(batch)))
	}
}

// drain ends every queued request (shutdown).
func (s *scheduler) drain() {
	for {
		select {
		case r := <-s.queue:
			r.send(genEvent{err: errShuttingDown})
		default:
			s.active.Store(0)
			return
		}
	}
}

func (s *scheduler) admit(r *genRequest) *seq {
	return &seq{r: r, caches: s.m.NewSeqCaches(len(r.prompt) + r.maxTokens), feed: r.prompt,
		counts: map[int]int{}, stream: textstream.New(s.tok, r.stops)}
}

// next picks q's next token from its logits and reports it; false means q is finished.
func (s *scheduler) next(q *seq, logits []float32, eos int) bool {
	r := q.r
	z := logits
	if r.presence != 0 || r.frequency != 0 || len(r.bias) > 0 {
		q.scratch = append(q.scratch[:0], logits...)
		z = q.scratch
		for id, n := range q.counts {
			z[id] -= float32(r.presence + r.frequency*float64(n))
		}
		for id, b := range r.bias {
			z[id] += float32(b)
		}
	}
	if r.format != nil {
		// Mask appends END at index V: stopping, allowed once the output is a whole document.
		z = r.format.Mask(z, r.maxTokens-q.out)
	}
	id := r.sampler.Next(z, nil)
	if id < 0 {
		r.send(genEvent{err: errors.New("the model produced no finite logit (are its weights finite?)")})
		return false
	}
	end := false // response_format: the document is complete
	if r.format != nil {
		if id == len(logits) { // END: the choice ends here, with no further token
			q.out++
			ev := genEvent{token: -1, finish: "stop"}
			if rest, err := q.stream.Flush(); err == nil {
				ev.text = rest
			}
			r.send(ev)
			return false
		}
		r.format.Advance(id)
		end = r.format.Done
	}
	q.out++
	q.counts[id]++
	ev := genEvent{token: id}
	if r.logprobs >= 0 {
		ev.logprob = choiceLogprobs(z, id, r.logprobs)
	}
	finished := false
	if id == eos {
		ev.finish, finished = "stop", true
	} else {
		delta, stopped, err := q.stream.Push(id)
		if err != nil {
			r.send(genEvent{err: err})
			return false
		}
		ev.text = delta
		if stopped {
			ev.finish, finished = "stop", true
		}
	}
	if !finished && end {
		ev.finish, finished = "stop", true
	}
	if !finished && q.out >= r.maxTokens {
		ev.finish, finished = "length", true
	}
	if finished && !q.stream.Stopped() {
		if rest, err := q.stream.Flush(); err == nil {
			ev.text += rest
		}
	}
	r.send(ev)
	q.feed = []int{id}
	return !finished
}

// choiceLogprobs is the log-softmax of logits at the chosen id and at the k most likely ids.
func choiceLogprobs(logits []float32, id, k int) *tokenChoice {
	maxz := math.Inf(-1)
	for _, v := range logits {
		maxz = math.Max(maxz, float64(v))
	}
	var sum float64
	for _, v := range logits {
		sum += math.Exp(float64(v) - maxz)
	}
	lse := maxz + math.Log(sum)
	c := &tokenChoice{id: id, logprob: float64(logits[id]) - lse}
	if k == 0 {
		return c
	}
	top := make([]idLogprob, 0, k+1)
	for i, v := range logits {
		lp := float64(v) - lse
		if len(top) == k && lp <= top[k-1].logprob {
			continue
		}
		j := len(top)
		if j < k {
			top = append(top, idLogprob{})
		} else {
			j = k - 1
		}
		for j > 0 && top[j-1].logprob < lp {
			top[j] = top[j-1]
			j--
		}
		top[j] = idLogprob{i, lp}
	}
	c.top = top
	return c
}
