//go:build amd64 && !purego

package kernel

import "syscall"

// Linux hands out the AMX tile registers' 8 KiB of state only to a process that asks for it
// (arch_prctl ARCH_REQ_XCOMP_PERM for XTILEDATA, Linux 5.16 on); a thread that touches the
// tiles without leave is killed with SIGILL. Leave is for the whole process and every thread
// it has or starts. It is refused where the kernel or the hypervisor does not enable the
// state, or where a thread's signal stack is too small for the larger signal frame (Go's are
// 32 KiB; the frame with the tiles about 11 KiB).
const (
	sysArchPrctl      = 158    // SYS_arch_prctl on amd64
	archReqXcompPerm  = 0x1023 // ARCH_REQ_XCOMP_PERM
	xfeatureXtiledata = 18     // XFEATURE_XTILEDATA
)

// amxPermitted asks Linux for the tile state and reports whether it was granted.
func amxPermitted() bool {
	_, _, errno := syscall.RawSyscall(sysArchPrctl, archReqXcompPerm, xfeatureXtiledata, 0)
	return errno == 0
}
