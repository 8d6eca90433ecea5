package hub

import (
	"context"
	"errors"
	"os"
	"strings"
)

// Snapshot downloads the files of repo at revision ("" means "main") that a model needs and
// returns the local snapshot folder holding them, snapshots/{commit}. Every name in files must
// exist; a name in optional that the repository lacks is skipped (and remembered in .no_exist/,
// so later calls do not ask again). At least one name must be given.
//
// The first file fixes the commit the revision points at; the other files are fetched at that
// commit, so a branch that moves during the download cannot mix files of two commits. All names
// are validated before any request is made.
//
// Offline, no request is made: the commit comes from refs/, every required file must be cached,
// and missing optional files are skipped.
func (c *Client) Snapshot(ctx context.Context, repo, revision string, files []string, optional []string) (dir string, err error) {
	s, err := c.settings()
	if err != nil {
		return "", err
	}
	t, err := s.target(repo, revision)
	if err != nil {
		return "", err
	}
	type want struct {
		name     string
		required bool
	}
	var list []want
	seen := map[string]bool{}
	for i, names := range [][]string{files, optional} {
		for _, f := range names {
			if err := checkFilename(f); err != nil {
				return "", describe(err, t.repo, t.revision, f)
			}
			if !seen[f] {
				seen[f] = true
				list = append(list, want{f, i == 0})
			}
		}
	}
	if len(list) == 0 {
		return "", &Error{Kind: ErrInvalidName, Repo: t.repo, Revision: t.revision, Message: "no files requested",
			Hint: "name the files the model needs, such as config.json and model.safetensors"}
	}

	commit := ""
	if c.Offline {
		var ok bool
		if commit, ok = t.cache.commitFor(t.revision); !ok {
			_, _, err := s.local(t, t.revision, list[0].name)
			return "", describe(err, t.repo, t.revision, "")
		}
	}
	var missing []string
	fellBack := false // the Hub was unreachable and a cached copy was used
	for _, w := range list {
		rev := t.revision
		if commit != "" {
			rev = commit
			if !w.required && t.cache.knownMissing(commit, w.name) {
				continue
			}
		}
		_, got, fb, err := s.download(ctx, t, rev, w.name)
		fellBack = fellBack || fb
		var he *Error
		if err != nil && errors.As(err, &he) && he.Commit != "" && commit == "" {
			got = he.Commit // a missing file still tells the commit
		}
		if got != "" && commit == "" {
			commit = got
		}
		if err == nil {
			continue
		}
		switch {
		case !w.required && errors.Is(err, ErrEntryNotFound):
		case !w.required && c.Offline && errors.Is(err, ErrLocalEntryNotFound):
		case !w.required && fellBack && unreachableErr(err):
			// Working from the cache while the Hub is unreachable: use what is there.
		case c.Offline && errors.Is(err, ErrLocalEntryNotFound):
			missing = append(missing, w.name)
		default:
			return "", describe(err, t.repo, t.revision, w.name)
		}
	}
	if len(missing) > 0 {
		return "", &Error{Kind: ErrLocalEntryNotFound, Repo: t.repo, Revision: t.revision, Commit: commit,
			Message: "not cached: " + strings.Join(missing, ", "),
			Hint:    "run once with network access (HF_HUB_OFFLINE and QKV_OFFLINE unset) to download them"}
	}
	if commit == "" {
		return "", &Error{Kind: ErrBadResponse, Repo: t.repo, Revision: t.revision, Message: "the server named no commit for this revision",
			Hint: "check QKV_ENDPOINT / HF_ENDPOINT"}
	}
	dir = t.cache.snapshotDir(commit)
	if !c.Offline {
		if err := os.MkdirAll(dir, 0o755); err != nil && !dirExists(dir) {
			return "", cacheError(dir, err)
		}
		if err := t.cache.updateRef(t.revision, commit); err != nil {
			return "", cacheError(t.cache.refPath(t.revision), err)
		}
	}
	return dir, nil
}

// unreachableErr reports whether err says the Hub could not be reached (or kept failing).
func unreachableErr(err error) bool {
	var he *Error
	return errors.As(err, &he) && he.fallsBackToCache()
}

func dirExists(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.IsDir()
}
