//go:build unix

package fileutil

import "syscall"

// openNonblock makes opening a named pipe return at once instead of waiting for a writer; it has
// no effect on regular files.
const openNonblock = syscall.O_NONBLOCK
