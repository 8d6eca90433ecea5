package auto

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/qkvdev/qkv/checkpoint"
	"github.com/qkvdev/qkv/hf/hub"
)

// Fetch downloads the model files of a Hub repository (ORG/NAME) and returns their local folder.
type Fetch func(ctx context.Context, repo string) (string, error)

// localFolders are first path elements that always mean a local folder: where qkv writes runs
// and conversions.
var localFolders = []string{"runs", "checkpoints", "export"}

// Resolve turns a model reference into a local model folder:
//   - an existing folder: a training run (its newest intact checkpoint; every newer damaged one
//     it passes over is reported on warn), a checkpoint (verified against its manifest) or a
//     model folder;
//   - a Hub repository id (ORG/NAME), which fetch downloads.
//
// A reference that looks like a path (it starts with /, ./, ../ or ~, names an existing file,
// or starts with an existing folder or a folder qkv writes such as runs/) is never sent to the
// Hub: if it is not a model folder, the error says what was looked for.
func Resolve(ctx context.Context, ref string, fetch Fetch, warn io.Writer) (string, error) {
	if st, err := os.Stat(ref); err == nil {
		if !st.IsDir() {
			return "", fmt.Errorf("%s is a file, not a model: give the folder that holds config.json and model.safetensors, a training run folder, or a Hub id ORG/NAME", ref)
		}
		dir, passedOver, err := checkpoint.ResolveModel(ref)
		if err != nil {
			return "", err
		}
		for _, why := range passedOver {
			fmt.Fprintf(warn, "warning: passed over a newer checkpoint: %s; using %s\n", why, dir)
		}
		return dir, nil
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	if looksLikePath(ref) {
		return "", noModel(ref)
	}
	if _, _, err := hub.ParseRepoID(ref); err != nil {
		return "", noModel(ref)
	}
	if fetch == nil {
		return "", fmt.Errorf("%s: no such model folder, and Hub downloads are not available here", ref)
	}
	return fetch(ctx, ref)
}

func noModel(ref string) error {
	return fmt.Errorf("%s: no such model folder (looked for a run folder, a checkpoint or a model folder); Hub ids look like ORG/NAME", ref)
}

// looksLikePath reports whether ref is meant as a local path rather than a Hub id.
func looksLikePath(ref string) bool {
	if filepath.IsAbs(ref) || strings.HasPrefix(ref, "/") || strings.HasPrefix(ref, "~") || strings.ContainsRune(ref, '\\') {
		return true
	}
	first, _, _ := strings.Cut(ref, "/")
	if first == "." || first == ".." {
		return true
	}
	for _, f := range localFolders {
		if first == f {
			return true
		}
	}
	if first != ref { // the first element of a longer path exists here: a local folder
		if _, err := os.Stat(first); err == nil {
			return true
		}
	}
	return false
}
