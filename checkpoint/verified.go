package checkpoint

import (
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Loading a model from a checkpoint usually verifies it twice: once when a front end
// resolves --model to a folder, once more when model/auto loads that folder, and hashing
// a large model's weights costs about a second each time. verified remembers the checkpoints
// this process has verified and how each of their files looked then (the same file, size and
// modification time, by os.Stat), so that a checkpoint verified again is hashed again only
// where something changed: another manifest, a file replaced, resized or written since.
//
// A file's modification time has the coarse resolution of the kernel's clock (a few
// milliseconds), so a write just after the file was looked at could leave it as it was. Only
// checkpoints whose files were all last written well before they were looked at (settled)
// are remembered: any later write stamps a newer time.

type verifiedCheckpoint struct {
	manifest string                 // the manifest's bytes
	files    map[string]os.FileInfo // the files it lists, as they were when hashed
}

var verified struct {
	sync.Mutex
	dirs map[string]verifiedCheckpoint // by absolute folder
}

// hashCheckpointFile hashes one file of a checkpoint being verified (a variable, for tests to
// count the files read).
var hashCheckpointFile = hashFile

// settled is how long before it is looked at a file must have been last written for a
// checkpoint to be remembered as verified: far above the resolution of its time stamp.
const settled = time.Second

// statFiles returns the FileInfo of every file man lists in dir, and whether all could be
// read and were last written at least settled before now.
func statFiles(dir string, man manifest) (map[string]os.FileInfo, bool) {
	now := time.Now()
	files := make(map[string]os.FileInfo, len(man.Files))
	for name := range man.Files {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || now.Sub(fi.ModTime()) < settled {
			return nil, false
		}
		files[name] = fi
	}
	return files, true
}

// verifiedBefore reports whether this process verified dir with this manifest and has seen
// none of its files change since.
func verifiedBefore(dir string, manifest []byte, files map[string]os.FileInfo) bool {
	verified.Lock()
	defer verified.Unlock()
	v, ok := verified.dirs[dir]
	if !ok || v.manifest != string(manifest) || len(v.files) != len(files) {
		return false
	}
	for name, fi := range files {
		was, ok := v.files[name]
		if !ok || !os.SameFile(was, fi) || was.Size() != fi.Size() || !was.ModTime().Equal(fi.ModTime()) {
			return false
		}
	}
	return true
}

// rememberVerified records that dir, with this manifest and these files, was verified.
func rememberVerified(dir string, manifest []byte, files map[string]os.FileInfo) {
	verified.Lock()
	defer verified.Unlock()
	if verified.dirs == nil {
		verified.dirs = map[string]verifiedCheckpoint{}
	}
	verified.dirs[dir] = verifiedCheckpoint{manifest: string(manifest), files: files}
}
