package hf

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/qkvdev/qkv/hf/safetensors"
	"github.com/qkvdev/qkv/nn"
)

type folderConfig struct {
	Dim int `json:"dim"`
}

func parseFolderConfig(data []byte) (folderConfig, error) {
	var c folderConfig
	if err := json.Unmarshal(data, &c); err != nil {
		return c, err
	}
	if c.Dim <= 0 {
		return c, errors.New("dim must be positive")
	}
	return c, nil
}

func marshalFolderConfig(c folderConfig) ([]byte, error) { return json.Marshal(c) }

func keepName(name string) (string, bool) { return name, true }

func TestModelFolderRoundTrip(t *testing.T) {
	dir := t.TempDir()
	var ps nn.Params
	w := ps.Add("w", true, 2, 3)
	for i := range w.Value.Data() {
		w.Value.Data()[i] = float32(i) + 0.5
	}
	if err := SaveModel(dir, "fam", folderConfig{Dim: 3}, marshalFolderConfig, &ps); err != nil {
		t.Fatal(err)
	}
	cfg, path, err := ReadModelConfig(dir, "fam", parseFolderConfig)
	if err != nil || cfg.Dim != 3 || path != filepath.Join(dir, "config.json") {
		t.Fatalf("ReadModelConfig = %+v, %q, %v", cfg, path, err)
	}
	var got nn.Params
	g := got.Add("w", true, 2, 3)
	checked := 0
	check := func(files []*safetensors.File) error {
		checked = len(files)
		return nil
	}
	if err := LoadModelWeights(dir, "fam", &got, keepName, check); err != nil {
		t.Fatal(err)
	}
	if checked != 1 {
		t.Errorf("check saw %d files, want 1", checked)
	}
	for i, v := range g.Value.Data() {
		if v != float32(i)+0.5 {
			t.Fatalf("w[%d] = %g, want %g", i, v, float32(i)+0.5)
		}
	}
	want := errors.New("tied copy differs")
	if err := LoadModelWeights(dir, "fam", &got, keepName, func([]*safetensors.File) error { return want }); err != want {
		t.Errorf("check's error = %v, want it returned as it is", err)
	}
}

func TestModelFolderErrors(t *testing.T) {
	var ps nn.Params
	ps.Add("w", true, 2)
	badConfig := t.TempDir()
	if err := os.WriteFile(filepath.Join(badConfig, "config.json"), []byte(`{"dim": 0}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, dir, prefix string
		err               func(dir string) error
	}{
		{"no config", t.TempDir(), "fam: ", func(dir string) error {
			_, _, err := ReadModelConfig(dir, "fam", parseFolderConfig)
			return err
		}},
		{"bad config", badConfig, filepath.Join(badConfig, "config.json") + ": dim must be positive", func(dir string) error {
			_, _, err := ReadModelConfig(dir, "fam", parseFolderConfig)
			return err
		}},
		{"no weights", t.TempDir(), "fam: ", func(dir string) error {
			return LoadModelWeights(dir, "fam", &ps, keepName, nil)
		}},
		{"marshal fails", t.TempDir(), "fam: cannot marshal", func(dir string) error {
			fail := func(folderConfig) ([]byte, error) { return nil, errors.New("cannot marshal") }
			return SaveModel(dir, "fam", folderConfig{}, fail, &ps)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.err(tt.dir)
			if err == nil || !strings.HasPrefix(err.Error(), tt.prefix) {
				t.Errorf("error = %v, want it to start with %q", err, tt.prefix)
			}
		})
	}
}
