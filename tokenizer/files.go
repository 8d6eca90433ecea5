package tokenizer

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/qkvdev/qkv/internal/fileutil"
)

// maxFileSize bounds each tokenizer file read: the largest tokenizer.json files in use are a few
// tens of MiB.
const maxFileSize = 256 << 20

// readFile reads a tokenizer file. Anything but a regular file (a named pipe, a device, a
// folder) is refused without blocking, and a file over maxFileSize is refused unread.
func readFile(path string) ([]byte, error) {
	data, err := fileutil.ReadFile(path, maxFileSize, "a tokenizer file")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return data, nil
}

// readOptionalFile is readFile for a file a folder may lack: ok is false when path does not
// exist; any other failure is an error.
func readOptionalFile(path string) (data []byte, ok bool, err error) {
	data, err = readFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, false, nil
	}
	return data, err == nil, err
}
