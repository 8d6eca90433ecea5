package serve

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/qkvdev/qkv/model/auto"
	"github.com/qkvdev/qkv/model/gpt"
	"github.com/qkvdev/qkv/tensor"
)

// BenchOptions set up a serving benchmark: a GPT with random weights served on loopback, and
// Streams concurrent streaming completions of Tokens tokens each after a Prompt-token prompt.
type BenchOptions struct {
	Config  gpt.Config // default: GPT-2 124M shapes
	Streams int
	Prompt  int
	Tokens  int
}

// BenchResult is what the clients measured.
type BenchResult struct {
	Streams      int
	Tokens       int              // generated, over all streams
	Elapsed      time.Duration    // first request sent to last stream done
	TokensPerSec float64          // aggregate
	TTFT         [2]time.Duration // time to first token, p50 and p99
	ITL          [2]time.Duration // inter-token latency, p50 and p99
}

func (r BenchResult) String() string {
	return fmt.Sprintf("%d streams: %d tokens in %.2fs = %.1f tokens/s; TTFT p50 %s p99 %s; ITL p50 %s p99 %s",
		r.Streams, r.Tokens, r.Elapsed.Seconds(), r.TokensPerSec, r.TTFT[0].Round(time.Microsecond), r.TTFT[1].Round(time.Microsecond),
		r.ITL[0].Round(time.Microsecond), r.ITL[1].Round(time.Microsecond))
}

// GPT2Small is GPT-2 124M's shape.
func GPT2Small() gpt.Config {
	return gpt.Config{VocabSize: 50257, NPositions: 1024, NEmbd: 768, NLayer: 12, NHead: 12, LayerNormEpsilon: 1e-5, Activation: "gelu_new"}
}

// benchTokenizer decodes any id of a large vocabulary to a short word, so that random weights
// stream text without a real vocabulary's files.
type benchTokenizer struct{ v int }

func (t benchTokenizer) Encode(text string) []int { return nil }
func (t benchTokenizer) Decode(ids []int) (string, error) {
	var b strings.Builder
	for _, id := range ids {
		if id < 0 || id >= t.v {
			return "", fmt.Errorf("token %d outside [0, %d)", id, t.v)
		}
		b.WriteString(" t")
		b.WriteString(strconv.Itoa(id))
	}
	return b.String(), nil
}
func (t benchTokenizer) VocabSize() int { return t.v }
func (t benchTokenizer) Kind() string   { return "bench" }
func (t benchTokenizer) Save(dir string) error {
	return fmt.Errorf("the benchmark tokenizer is not saved")
}

// BenchModel builds the random-weight model a benchmark serves, once for several runs, with
// its weights prepared as qkv serve prepares a model it loads with the default --weights
// (PackWeights in fp32).
func BenchModel(cfg gpt.Config) (*Model, error) {
	if cfg.VocabSize == 0 {
		cfg = GPT2Small()
	}
	g, err := gpt.New(cfg, 1)
	if err != nil {
		return nil, err
	}
	am, err := auto.Wrap(g)
	if err != nil {
		return nil, err
	}
	m, err := NewModel("bench", am, benchTokenizer{cfg.VocabSize}, TokenizerConfig{})
	if err != nil {
		return nil, err
	}
	return m, m.PackWeights(tensor.FP32)
}

// Bench serves m on loopback and runs o.Streams concurrent streams against it.
func Bench(ctx context.Context, m *Model, o BenchOptions) (BenchResult, error) {
	s, err := New([]*Model{m}, Options{MaxBatch: max(o.Streams, 1), QueueSize: max(o.Streams, 1)})
	if err != nil {
		return BenchResult{}, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return BenchResult{}, err
	}
	hs := &http.Server{Handler: s.Handler()}
	go hs.Serve(ln)
	defer func() {
		hs.Close()
		s.Close(context.Background())
		m.sched = nil // a later Bench starts its own loop
	}()
	url := "http://" + ln.Addr().String() + "/v1/completions"
	prompt := make([]string, o.Prompt)
	for i := range prompt {
		prompt[i] = strconv.Itoa((i*7919 + 13) % m.gpt.Config.VocabSize)
	}
	body := fmt.Sprintf(`{"model":"bench","prompt":[%s],"max_tokens":%d,"temperature":0,"stream":true}`, strings.Join(prompt, ","), o.Tokens)
	var mu sync.Mutex
	var ttft, itl []time.Duration
	tokens := 0
	errs := make(chan error, o.Streams)
	var wg sync.WaitGroup
	start := time.Now()
	for range o.Streams {
		wg.Go(func() {
			req, _ := http.NewRequestWithContext(ctx, "POST", url, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			t0 := time.Now()
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				errs <- err
				return
			}
			defer res.Body.Close()
			if res.StatusCode != 200 {
				errs <- fmt.Errorf("status %d", res.StatusCode)
				return
			}
			var first time.Duration
			var gaps []time.Duration
			last, n := t0, 0
			sc := bufio.NewScanner(res.Body)
			for sc.Scan() {
				line := sc.Text()
				if !strings.HasPrefix(line, "data: {") {
					continue
				}
				now := time.Now()
				if n == 0 {
					first = now.Sub(t0)
				} else {
					gaps = append(gaps, now.Sub(last))
				}
				last = now
				n++
			}
			mu.Lock()
			ttft = append(ttft, first)
			itl = append(itl, gaps...)
			tokens += n
			mu.Unlock()
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	close(errs)
	if err := <-errs; err != nil {
		return BenchResult{}, err
	}
	r := BenchResult{Streams: o.Streams, Tokens: tokens, Elapsed: elapsed, TokensPerSec: float64(tokens) / elapsed.Seconds()}
	r.TTFT = [2]time.Duration{percentile(ttft, 50), percentile(ttft, 99)}
	r.ITL = [2]time.Duration{percentile(itl, 50), percentile(itl, 99)}
	return r, nil
}

func percentile(d []time.Duration, p int) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[min(len(d)-1, (len(d)*p)/100)]
}
