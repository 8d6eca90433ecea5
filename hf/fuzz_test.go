package hf

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/qkvdev/qkv/hf/safetensors"
)

// Names of the files the fuzzed folder may hold besides the index.
const (
	shard1 = "model-00001-of-00002.safetensors"
	shard2 = "model-00002-of-00002.safetensors"
	// outsideMark in a fuzzed index is replaced by the absolute path of a valid shard outside
	// the model folder, so that the fuzzer can try absolute paths that would open.
	outsideMark = "$OUTSIDE"
)

// openFDs counts this process's open file descriptors, or returns -1 where that is unknown.
func openFDs() int {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return -1
	}
	return len(entries)
}

// FuzzOpenWeights fuzzes model.safetensors.index.json in a folder that may hold two small real
// shards, next to a valid shard outside the folder (../outside.safetensors, and a sub/ folder
// with one more). OpenWeights must never panic; it must refuse, from the index alone, a
// weight_map that names anything but a plain file of the folder (../, absolute paths, sub/…,
// ".", control characters), whatever exists there; on success it returns, sorted and once each,
// exactly the distinct files of weight_map, each directly in the folder; on failure its message
// names the folder and holds no control character, and no file stays open.
func FuzzOpenWeights(f *testing.F) {
	var buf bytes.Buffer
	if err := safetensors.Encode(&buf, []safetensors.Tensor{safetensors.F32("w", []int{2}, []float32{1, 2})}, nil); err != nil {
		f.Fatal(err)
	}
	shard := buf.Bytes()
	index := func(m map[string]string) []byte {
		b, _ := json.Marshal(map[string]any{"metadata": map[string]any{"total_size": 8}, "weight_map": m})
		return b
	}
	for _, s := range []struct {
		index  string
		shards bool
	}{
		// valid: one and two shards, names repeated as in real indexes
		{string(index(map[string]string{"w": shard1})), true},
		{string(index(map[string]string{"a": shard1, "b": shard2, "c": shard1})), true},
		{`{"weight_map":{"w":"` + shard1 + `"}}` + "\n", true},
		// a shard that is missing
		{string(index(map[string]string{"w": shard1})), false},
		{string(index(map[string]string{"a": shard1, "b": "model-00003-of-00003.safetensors"})), true},
		// not an index
		{"", true}, {"{", true}, {"null", true}, {"[]", true}, {`{"weight_map":{}}`, true},
		{`{"weight_map":null}`, true}, {`{"weight_map":{"w":1}}`, true}, {`{"weight_map":[]}`, true},
		{`{"weight_map":{"w":"` + shard1 + `","w":"` + shard2 + `"}}`, true},
		// outside the folder (HOSTILE-INPUTS A8, C26)
		{string(index(map[string]string{"w": "../outside.safetensors"})), true},
		{string(index(map[string]string{"w": outsideMark})), true},
		{string(index(map[string]string{"w": shard1, "v": "/etc/passwd"})), true},
		{string(index(map[string]string{"w": "sub/inner.safetensors"})), true},
		{string(index(map[string]string{"w": "./" + shard1})), true},
		{string(index(map[string]string{"w": `..\outside.safetensors`})), true},
		{string(index(map[string]string{"w": `C:\x`})), true},
		{string(index(map[string]string{"w": "D:foo"})), true},
		{string(index(map[string]string{"w": `\\host\share\x`})), true},
		{string(index(map[string]string{"w": ".."})), true},
		{string(index(map[string]string{"w": "."})), true},
		{string(index(map[string]string{"w": ""})), true},
		{string(index(map[string]string{"w": "sub"})), true},
		{string(index(map[string]string{"w": shard1 + "\x00"})), true},
		{string(index(map[string]string{"w": "a\x1b[2J.safetensors"})), true},
		{string(index(map[string]string{"w": "model.safetensors.index.json"})), true},
		// Found by this target: "." passed filepath.IsLocal and was opened (the folder itself:
		// "safetensors: DIR: not a regular file"), and a name with control characters reached
		// the error message raw ("a\x1b[2J…" could drive the terminal).
		{`{"weight_map":{"w":"."}}`, true},
		{`{"weight_map":{"w":"a\u001b[2J.safetensors","v":"` + shard1 + `"}}`, true},
		{`{"weight_map":{"w":"` + shard1 + `\u0000"}}`, true},
	} {
		f.Add([]byte(s.index), s.shards)
	}
	f.Fuzz(func(t *testing.T, data []byte, shards bool) {
		root := t.TempDir()
		dir := filepath.Join(root, "model")
		outside := filepath.Join(root, "outside.safetensors")
		for path, content := range map[string][]byte{outside: shard, filepath.Join(dir, "sub", "inner.safetensors"): shard} {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, content, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if shards {
			for _, name := range []string{shard1, shard2} {
				if err := os.WriteFile(filepath.Join(dir, name), shard, 0o644); err != nil {
					t.Fatal(err)
				}
			}
		}
		outsideJSON, _ := json.Marshal(outside)
		data = bytes.ReplaceAll(data, []byte(outsideMark), outsideJSON[1:len(outsideJSON)-1])
		if err := os.WriteFile(filepath.Join(dir, WeightsIndexFile), data, 0o644); err != nil {
			t.Fatal(err)
		}

		// What the index names, read independently.
		var idx struct {
			WeightMap map[string]string `json:"weight_map"`
		}
		parsed := json.Unmarshal(data, &idx) == nil && len(idx.WeightMap) > 0
		var want []string
		escapes, unsafe := false, false
		for _, file := range idx.WeightMap {
			if file == "" || file == "." || file != filepath.Base(file) || !filepath.IsLocal(file) || strings.ContainsAny(file, `/\`) {
				escapes = true
			}
			if strings.ContainsFunc(file, unicode.IsControl) {
				unsafe = true
			}
			if !slices.Contains(want, file) {
				want = append(want, file)
			}
		}
		slices.Sort(want)

		fds := openFDs()
		files, err := OpenWeights(dir)
		if err != nil {
			if files != nil {
				t.Fatalf("OpenWeights failed (%v) but returned %d files", err, len(files))
			}
			if !strings.Contains(err.Error(), dir) {
				t.Fatalf("error %q does not name the folder %s", err, dir)
			}
			if strings.ContainsFunc(err.Error(), unicode.IsControl) {
				t.Fatalf("error %q holds a control character from the index", err)
			}
			// A name that is no plain file of the folder is refused by reading the index,
			// before anything is opened (or even looked up) on the disk.
			if parsed && (escapes || unsafe) && !strings.Contains(err.Error(), WeightsIndexFile+": shard ") {
				t.Fatalf("index %q names %q: error %q, want the index refused before opening anything", data, want, err)
			}
			if n := openFDs(); n != fds {
				t.Fatalf("OpenWeights failed (%v) and left %d file descriptors open", err, n-fds)
			}
			return
		}
		defer CloseAll(files)
		switch {
		case !parsed:
			t.Fatalf("index %q is not a non-empty weight_map, but OpenWeights opened %d files", data, len(files))
		case escapes || unsafe:
			t.Fatalf("index %q names a file outside the folder, but OpenWeights opened it", data)
		case len(files) != len(want):
			t.Fatalf("index names %q, OpenWeights opened %d files", want, len(files))
		}
		for i, file := range files {
			name := file.Name()
			if name != filepath.Join(dir, want[i]) || filepath.Dir(name) != dir || name == outside {
				t.Fatalf("file %d is %s, want %s directly in %s", i, name, want[i], dir)
			}
			if st, err := os.Lstat(name); err != nil || !st.Mode().IsRegular() {
				t.Fatalf("opened %s, which is not a regular file of the folder (%v)", name, err)
			}
			if _, ok := file.Info("w"); !ok {
				t.Fatalf("%s: the shard's tensor is missing", name)
			}
		}
	})
}
