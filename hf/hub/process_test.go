package hub

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestMain runs the package's tests, or, in a child process started by TestProcesses, one
// download.
func TestMain(m *testing.M) {
	if os.Getenv("QKV_HUB_CHILD") == "1" {
		c := &Client{Endpoint: os.Getenv("QKV_ENDPOINT"), CacheDir: os.Getenv("QKV_CACHE"), Backoff: time.Millisecond}
		if _, err := c.Download(context.Background(), os.Getenv("QKV_HUB_REPO"), "main", "model.safetensors"); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func child(h *fakeHub, cache string) *exec.Cmd {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "QKV_HUB_CHILD=1", "QKV_ENDPOINT="+h.hub.URL, "QKV_CACHE="+cache, "QKV_HUB_REPO="+h.repo)
	cmd.Stderr = os.Stderr
	return cmd
}

// HOSTILE C27: two processes download one blob at once without locks; a process killed
// mid-download leaves a partial file that the next download resumes (its pid is dead).
func TestProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts processes")
	}
	t.Run("concurrent", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		d := h.files["model.safetensors"].data
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
			if r.Header.Get("Range") != "" {
				return false
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(d)))
			for i := 0; i < len(d); i += 20000 {
				if _, err := w.Write(d[i:min(i+20000, len(d))]); err != nil {
					return true
				}
				w.(http.Flusher).Flush()
				time.Sleep(5 * time.Millisecond)
			}
			return true
		})
		cache := t.TempDir()
		a, b := child(h, cache), child(h, cache)
		for _, cmd := range []*exec.Cmd{a, b} {
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
		}
		for _, cmd := range []*exec.Cmd{a, b} {
			if err := cmd.Wait(); err != nil {
				t.Errorf("child: %v", err)
			}
		}
		c := &Client{CacheDir: cache}
		mustContent(t, filepath.Join(h.repoRoot(c), "blobs", h.files["model.safetensors"].sha256), d)
		mustContent(t, filepath.Join(h.repoRoot(c), "snapshots", testCommit, "model.safetensors"), d)
		h.noTemporaries(t, c)
	})

	t.Run("killed then resumed", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		d := h.files["model.safetensors"].data
		var first atomic.Bool
		h.setCDNFault(func(w http.ResponseWriter, r *http.Request) bool {
			if !first.CompareAndSwap(false, true) {
				return false
			}
			w.Header().Set("Content-Length", strconv.Itoa(len(d)))
			w.Write(d[:150000])
			w.(http.Flusher).Flush()
			<-r.Context().Done() // hang until the client goes away
			return true
		})
		cache := t.TempDir()
		c, _ := h.client(t)
		c.CacheDir = cache
		cmd := child(h, cache)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Wait until the child holds part of the file, then kill it.
		deadline := time.Now().Add(20 * time.Second)
		var partial string
		for partial == "" && time.Now().Before(deadline) {
			for _, n := range h.blobNames(t, c) {
				if strings.HasSuffix(n, ".incomplete") && !strings.HasPrefix(n, ".") {
					p := filepath.Join(h.repoRoot(c), "blobs", n)
					if fi, err := os.Stat(p); err == nil && fi.Size() == 150000 {
						partial = p
					}
				}
			}
			time.Sleep(5 * time.Millisecond)
		}
		cmd.Process.Kill()
		cmd.Wait() // reaped: its pid is now dead
		if partial == "" {
			t.Fatal("the child never wrote its partial download")
		}
		p, err := c.Download(context.Background(), h.repo, "main", "model.safetensors")
		if err != nil {
			t.Fatal(err)
		}
		mustContent(t, p, d)
		if r := h.requests(); r[len(r)-1].rng != "bytes=150000-" {
			t.Errorf("the killed process's partial download was not resumed: %+v", r[len(r)-1])
		}
		h.noTemporaries(t, c)
	})
}
