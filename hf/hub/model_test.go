package hub

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSnapshotModel(t *testing.T) {
	ctx := context.Background()
	t.Run("single file", func(t *testing.T) {
		h := newFakeHub(t, syntheticFiles())
		c, _ := h.client(t)
		dir, err := c.SnapshotModel(ctx, h.repo, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"config.json", "model.safetensors", "generation_config.json"} {
			mustContent(t, filepath.Join(dir, name), h.files[name].data)
		}
	})

	t.Run("sharded", func(t *testing.T) {
		files := syntheticFiles()
		delete(files, "model.safetensors")
		files["model-00001-of-00002.safetensors"] = newHubFile([]byte("shard one"), true)
		files["model-00002-of-00002.safetensors"] = newHubFile([]byte("shard two"), true)
		files["model.safetensors.index.json"] = newHubFile([]byte(`{"metadata": {}, "weight_map": {
			"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors", "c": "model-00001-of-00002.safetensors"}}`), false)
		h := newFakeHub(t, files)
		c, _ := h.client(t)
		dir, err := c.SnapshotModel(ctx, h.repo, "main")
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range []string{"model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"} {
			mustContent(t, filepath.Join(dir, name), files[name].data)
		}

		// The same pull offline, and with the Hub gone: no request, no wait.
		off := &Client{Endpoint: failingServer(t).URL, CacheDir: c.CacheDir, Offline: true}
		if d, err := off.SnapshotModel(ctx, h.repo, "main"); err != nil || d != dir {
			t.Fatalf("offline: %s, %v", d, err)
		}
		h.hub.Close()
		h.cdn.Close()
		c.Backoff = time.Hour // a retry would hang the test
		if d, err := c.SnapshotModel(ctx, h.repo, "main"); err != nil || d != dir {
			t.Fatalf("hub unreachable: %s, %v", d, err)
		}
	})

	t.Run("hostile index", func(t *testing.T) {
		for _, index := range []string{
			`{"weight_map": {"a": "../../../../etc/passwd"}}`,
			`{"weight_map": {"a": "/abs.safetensors"}}`,
			`{"weight_map": {}}`,
			`{"weight_map": ["x"]}`,
			`not json`,
		} {
			files := syntheticFiles()
			delete(files, "model.safetensors")
			files["model.safetensors.index.json"] = newHubFile([]byte(index), false)
			h := newFakeHub(t, files)
			c, _ := h.client(t)
			_, err := c.SnapshotModel(ctx, h.repo, "main")
			if !errors.Is(err, ErrInvalidName) && !errors.Is(err, ErrBadResponse) {
				t.Errorf("%s: err = %v", index, err)
			}
			for _, r := range h.requests() {
				if strings.Contains(r.path, "passwd") || strings.Contains(r.path, "abs.safetensors") {
					t.Errorf("requested %s", r.path)
				}
			}
		}
	})

	t.Run("no safetensors", func(t *testing.T) {
		files := syntheticFiles()
		delete(files, "model.safetensors")
		h := newFakeHub(t, files)
		c, _ := h.client(t)
		_, err := c.SnapshotModel(ctx, h.repo, "main")
		if !errors.Is(err, ErrEntryNotFound) || !strings.Contains(err.Error(), "safetensors") {
			t.Errorf("err = %v", err)
		}
	})
}
