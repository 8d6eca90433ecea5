// Package fileutil opens and reads the files a user names (tokenizer files, training text,
// configs) safely: anything but a regular file — a named pipe, a device such as /dev/urandom, a
// socket, a folder — is refused with a clear error instead of blocking or reading without end,
// and reads are bounded.
package fileutil

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// SmallFileLimit bounds the small files read whole that are not data: configs, run options,
// trainer states, templates. Anything larger is not one of them.
const SmallFileLimit = 64 << 20

// ErrNotRegular is returned (wrapped) for a path that is not a regular file.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned (wrapped) by ReadFile for a file larger than its limit.
var ErrTooLarge = errors.New("file too large")

// Open opens path for reading if it is a regular file (a symbolic link to one is followed). The
// file is opened without blocking (O_NONBLOCK where the system has it), so a named pipe with no
// writer cannot hang the caller, and the opened descriptor is checked, so a file swapped after a
// Stat cannot slip through.
func Open(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|openNonblock, 0)
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, err
	}
	if !st.Mode().IsRegular() {
		f.Close()
		return nil, &fs.PathError{Op: "open", Path: path, Err: fmt.Errorf("%w (it is %s)", ErrNotRegular, describe(st.Mode()))}
	}
	return f, nil
}

// ReadFile reads the regular file at path, at most limit bytes; what says what the file should
// be ("a tokenizer.json"), for the error when it is larger. Errors name the path.
func ReadFile(path string, limit int64, what string) ([]byte, error) {
	f, err := Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", path, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s is larger than %d bytes; it is not %s: %w", path, limit, what, ErrTooLarge)
	}
	return data, nil
}

// describe names a kind of file that is not regular.
func describe(m fs.FileMode) string {
	switch {
	case m&fs.ModeNamedPipe != 0:
		return "a named pipe (FIFO)"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m.IsDir():
		return "a folder"
	}
	return "a special file"
}
