//go:build !unix

package fileutil

// openNonblock is zero where the system has no O_NONBLOCK (named pipes cannot block an open
// there in the same way).
const openNonblock = 0
