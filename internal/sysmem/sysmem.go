// Package sysmem says how much memory this machine can give a model, so that a model too large
// for it is refused with a clear message before anything is allocated, not killed part-way by
// the out-of-memory killer.
package sysmem

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// LimitEnv names the environment variable that sets the memory available to qkv, in bytes or
// with a K, M, G or T suffix (powers of 1024), overriding what the system reports.
const LimitEnv = "QKV_MEMORY_LIMIT"

// Available returns the bytes of memory a new allocation can use and where that figure comes
// from; ok is false when it cannot be told. The figure is QKV_MEMORY_LIMIT when set; else, on
// Linux, MemAvailable (or MemTotal on old kernels) of /proc/meminfo, lowered to what a cgroup v2
// memory.max leaves; elsewhere the machine's physical memory where the system reports it.
func Available() (bytes uint64, source string, ok bool, err error) {
	if v := os.Getenv(LimitEnv); v != "" {
		n, err := ParseSize(v)
		if err != nil {
			return 0, "", false, fmt.Errorf("%s=%q: %w", LimitEnv, v, err)
		}
		return n, LimitEnv, true, nil
	}
	bytes, source, ok = available()
	return bytes, source, ok, nil
}

// ParseSize reads a byte count such as 8589934592, 512M or 8G (K, M, G, T: powers of 1024; an
// optional trailing B or iB is allowed).
func ParseSize(s string) (uint64, error) {
	t := strings.ToUpper(strings.TrimSpace(s))
	t = strings.TrimSuffix(strings.TrimSuffix(t, "IB"), "B")
	mult := uint64(1)
	if n := len(t); n > 0 {
		if i := strings.IndexByte("KMGT", t[n-1]); i >= 0 {
			mult = 1 << (10 * (i + 1))
			t = t[:n-1]
		}
	}
	n, err := strconv.ParseUint(t, 10, 64)
	if err != nil || n > (1<<63)/mult {
		return 0, fmt.Errorf("not a size: want a number of bytes, optionally with K, M, G or T")
	}
	return n * mult, nil
}

// Check returns an error when need bytes for what exceed the memory available (it passes when
// that cannot be told).
func Check(need uint64, what string) error {
	avail, source, ok, err := Available()
	if err != nil {
		return err
	}
	if !ok || need <= avail {
		return nil
	}
	return fmt.Errorf("%s needs about %s of memory, but this machine has %s available (%s); use a smaller model or a machine with more memory (%s overrides the figure)",
		what, Human(need), Human(avail), source, LimitEnv)
}

// Human writes a byte count with a binary unit.
func Human(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// parseMeminfo returns MemAvailable of a /proc/meminfo text, or MemTotal when it has no
// MemAvailable (kernels before 3.14), in bytes.
func parseMeminfo(data []byte) (uint64, string, bool) {
	fields := map[string]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		key, rest, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) == 0 {
			continue
		}
		n, err := strconv.ParseUint(f[0], 10, 64)
		if err != nil || n > 1<<53 {
			continue
		}
		if len(f) > 1 && f[1] == "kB" {
			n *= 1024
		}
		fields[key] = n
	}
	if n, ok := fields["MemAvailable"]; ok {
		return n, "MemAvailable in /proc/meminfo", true
	}
	if n, ok := fields["MemTotal"]; ok {
		return n, "MemTotal in /proc/meminfo", true
	}
	return 0, "", false
}

// cgroupLeft returns what a cgroup v2 memory.max leaves above memory.current, when the limit
// is set.
func cgroupLeft(max, current []byte) (uint64, bool) {
	m, err := strconv.ParseUint(strings.TrimSpace(string(max)), 10, 64) // "max" means no limit
	if err != nil {
		return 0, false
	}
	c, err := strconv.ParseUint(strings.TrimSpace(string(current)), 10, 64)
	if err != nil || c > m {
		return 0, err == nil
	}
	return m - c, true
}
