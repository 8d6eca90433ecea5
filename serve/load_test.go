package serve

import (
	"context"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// A bounded load on loopback — completions, chats, streams cut off midway, embeddings, bad
// requests, concurrently — gets no 5xx, and leaves no goroutines or memory behind.
func TestLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	_, ts := newTestServer(t, Options{MaxBatch: 4, QueueSize: 16})
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	bodies := []struct{ path, body string }{
		{"/v1/completions", `{"model":"tiny-gpt","prompt":"load","max_tokens":8}`},
		{"/v1/completions", `{"model":"tiny-gpt","prompt":"load","max_tokens":20,"stream":true,"n":2}`},
		{"/v1/chat/completions", `{"model":"tiny-chat","messages":[{"role":"user","content":"hi"}],"max_tokens":6,"logprobs":true,"top_logprobs":3}`},
		{"/v1/chat/completions", `{"model":"tiny-gpt","messages":[{"role":"user","content":"hi"}],"max_tokens":30,"stream":true}`},
		{"/v1/embeddings", `{"model":"tiny-bert","input":["the cat","a dog"]}`},
		{"/v1/completions", `{"model":"tiny-gpt","prompt":"x","temperature":9}`},
		{"/v1/completions", `{"model":`},
	}
	round := func(r int) (status map[int]int) {
		status = map[int]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for w := range 8 {
			wg.Go(func() {
				for i := range 25 {
					b := bodies[(w+i)%len(bodies)]
					ctx, cancel := context.WithCancel(context.Background())
					req, _ := http.NewRequestWithContext(ctx, "POST", ts.URL+b.path, strings.NewReader(b.body))
					req.Header.Set("Content-Type", "application/json")
					res, err := client.Do(req)
					code := 0
					if err == nil {
						code = res.StatusCode
						if i%3 == 0 && strings.Contains(b.body, "stream") {
							buf := make([]byte, 64)
							res.Body.Read(buf) // read a little, then hang up
						} else {
							io.Copy(io.Discard, res.Body)
						}
						res.Body.Close()
					}
					cancel()
					mu.Lock()
					status[code]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return status
	}
	settle := func() (int, uint64) {
		client.CloseIdleConnections()
		var ms runtime.MemStats
		deadline := time.Now().Add(10 * time.Second)
		n := runtime.NumGoroutine()
		for time.Now().Before(deadline) {
			runtime.GC()
			time.Sleep(20 * time.Millisecond)
			if m := runtime.NumGoroutine(); m == n {
				break
			} else {
				n = m
			}
		}
		runtime.ReadMemStats(&ms)
		return n, ms.HeapInuse
	}
	var g0 int
	var h0 uint64
	for r := range 3 {
		status := round(r)
		for code, n := range status {
			if code >= 500 || code == 0 {
				t.Errorf("round %d: %d responses with status %d", r, n, code)
			}
		}
		g, h := settle()
		t.Logf("round %d: statuses %v, %d goroutines, heap in use %d KiB", r, status, g, h>>10)
		if r == 0 {
			g0, h0 = g, h
			continue
		}
		if g > g0+4 {
			t.Errorf("round %d: %d goroutines after the first round's %d", r, g, g0)
		}
		if h > h0+h0/2+(4<<20) {
			t.Errorf("round %d: heap in use grew from %d to %d KiB", r, h0>>10, h>>10)
		}
	}
}
