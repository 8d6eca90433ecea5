package hub

import (
	"context"
	"encoding/json"
	"github.com/qkvdev/qkv/internal/fileutil"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
)

// ModelFiles are the files every model checkpoint must have.
var ModelFiles = []string{"config.json"}

// OptionalModelFiles are the files of a checkpoint that are fetched when the repository has them:
// the weights (one safetensors file, or the index of a sharded one), the generation settings,
// and the tokenizer files of the GPT-2 (vocab.json, merges.txt) and BERT (vocab.txt) families,
// and qkv's own character/byte tokenizer file.
var OptionalModelFiles = []string{
	"model.safetensors",
	"model.safetensors.index.json",
	"generation_config.json",
	"tokenizer.json",
	"tokenizer_config.json",
	"special_tokens_map.json",
	"added_tokens.json",
	"vocab.json",
	"merges.txt",
	"vocab.txt",
	"qkv_tokenizer.json",
}

// Limits on a sharded checkpoint's index, which comes from the server: real indexes are a few
// hundred KiB and name at most a few hundred shards.
const (
	maxIndexBytes = 16 << 20
	maxShards     = 10000
)

// SnapshotModel downloads a model checkpoint of repo at revision ("" means "main") and returns its
// local folder: ModelFiles, whichever OptionalModelFiles exist, and, for a sharded checkpoint,
// every shard named by model.safetensors.index.json. Only safetensors weights are fetched; a
// repository with neither model.safetensors nor an index is an ErrEntryNotFound error. It works
// offline like Snapshot, and costs only metadata requests when everything is cached.
func (c *Client) SnapshotModel(ctx context.Context, repo, revision string) (dir string, err error) {
	dir, err = c.Snapshot(ctx, repo, revision, ModelFiles, OptionalModelFiles)
	if err != nil {
		return "", err
	}
	if fileExists(filepath.Join(dir, "model.safetensors")) {
		return dir, nil
	}
	index := filepath.Join(dir, "model.safetensors.index.json")
	if !fileExists(index) {
		return "", &Error{Kind: ErrEntryNotFound, Repo: repo, Revision: revision, File: "model.safetensors",
			Message: "the repository has neither model.safetensors nor model.safetensors.index.json",
			Hint:    "only safetensors weights are supported; pick a repository that has them (PyTorch .bin files are not read)"}
	}
	shards, err := readShardNames(index)
	if err != nil {
		return "", describe(err, repo, revision, "model.safetensors.index.json")
	}
	// Fetch the shards at the commit the folder belongs to, so they match the index.
	if _, err := c.Snapshot(ctx, repo, filepath.Base(dir), shards, nil); err != nil {
		return "", err
	}
	return dir, nil
}

// readShardNames returns the distinct file names of an index's weight_map, in sorted order,
// each validated as a repository filename (the index comes from the server).
func readShardNames(path string) ([]string, error) {
	bad := func(msg string, err error) error {
		return &Error{Kind: ErrBadResponse, Message: msg, Err: err,
			Hint: "the repository's model.safetensors.index.json is malformed; report it to the repository's owner"}
	}
	f, err := fileutil.Open(path) // a FIFO or device is refused without blocking
	if err != nil {
		return nil, &Error{Kind: ErrLocalEntryNotFound, Message: path, Err: err}
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, maxIndexBytes+1))
	if err != nil {
		return nil, &Error{Kind: ErrCache, Message: path, Err: err}
	}
	if len(b) > maxIndexBytes {
		return nil, bad("the index is larger than "+strconv.Itoa(maxIndexBytes>>20)+" MiB", nil)
	}
	var idx struct {
		WeightMap map[string]string `json:"weight_map"`
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, bad("the index is not valid JSON", err)
	}
	seen := map[string]bool{}
	var shards []string
	for _, file := range idx.WeightMap {
		if seen[file] {
			continue
		}
		if err := checkFilename(file); err != nil {
			return nil, err
		}
		seen[file] = true
		shards = append(shards, file)
		if len(shards) > maxShards {
			return nil, bad("the index names more than "+strconv.Itoa(maxShards)+" shards", nil)
		}
	}
	if len(shards) == 0 {
		return nil, bad("the index's weight_map is empty", nil)
	}
	slices.Sort(shards)
	return shards, nil
}

func fileExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
