package sysmem

import (
	"strings"
	"testing"
)

func TestParseMeminfo(t *testing.T) {
	for _, c := range []struct {
		text   string
		want   uint64
		source string
		ok     bool
	}{
		{"MemTotal:       24576000 kB\nMemFree:        1000 kB\nMemAvailable:   20480000 kB\n", 20480000 * 1024, "MemAvailable", true},
		{"MemTotal:       2048 kB\nMemFree:        1000 kB\n", 2048 * 1024, "MemTotal", true},
		{"MemAvailable: 4096\n", 4096, "MemAvailable", true},
		{"", 0, "", false},
		{"MemAvailable: lots kB\nnonsense\n:\nMemTotal:\n", 0, "", false},
		{"MemAvailable: 99999999999999999999 kB\n", 0, "", false},
	} {
		got, source, ok := parseMeminfo([]byte(c.text))
		if got != c.want || ok != c.ok || !strings.Contains(source, c.source) {
			t.Errorf("parseMeminfo(%q) = %d, %q, %v; want %d, %q, %v", c.text, got, source, ok, c.want, c.source, c.ok)
		}
	}
}

func TestCgroupLeft(t *testing.T) {
	for _, c := range []struct {
		max, cur string
		want     uint64
		ok       bool
	}{
		{"1073741824\n", "73741824\n", 1000000000, true},
		{"max\n", "5\n", 0, false},
		{"100\n", "200\n", 0, true},
		{"100\n", "x", 0, false},
	} {
		got, ok := cgroupLeft([]byte(c.max), []byte(c.cur))
		if got != c.want || ok != c.ok {
			t.Errorf("cgroupLeft(%q, %q) = %d, %v; want %d, %v", c.max, c.cur, got, ok, c.want, c.ok)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, c := range []struct {
		in   string
		want uint64
		bad  bool
	}{
		{"4096", 4096, false}, {"512M", 512 << 20, false}, {"8G", 8 << 30, false}, {"8GiB", 8 << 30, false},
		{"1t", 1 << 40, false}, {" 2KB ", 2048, false},
		{"", 0, true}, {"G", 0, true}, {"-1", 0, true}, {"1.5G", 0, true}, {"99999999999T", 0, true}, {"8X", 0, true},
	} {
		got, err := ParseSize(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

// QKV_MEMORY_LIMIT overrides the system's figure, and Check refuses what exceeds it.
func TestCheck(t *testing.T) {
	t.Setenv(LimitEnv, "1G")
	if err := Check(1<<30, "the model"); err != nil {
		t.Fatalf("1 GiB within a 1 GiB limit: %v", err)
	}
	err := Check(3<<30, "the model")
	if err == nil || !strings.Contains(err.Error(), "the model needs about 3.0 GiB of memory") || !strings.Contains(err.Error(), "1.0 GiB available ("+LimitEnv+")") {
		t.Fatalf("Check over the limit = %v", err)
	}
	t.Setenv(LimitEnv, "lots")
	if err := Check(1, "the model"); err == nil || !strings.Contains(err.Error(), LimitEnv) {
		t.Fatalf("a bad %s = %v", LimitEnv, err)
	}
	t.Setenv(LimitEnv, "")
	if n, source, ok, err := Available(); err != nil || ok && (n == 0 || source == "") {
		t.Fatalf("Available() = %d, %q, %v, %v", n, source, ok, err)
	}
}

func FuzzParseMeminfo(f *testing.F) {
	f.Add([]byte("MemTotal: 2048 kB\nMemAvailable: 1024 kB\n"))
	f.Add([]byte("MemAvailable: 18446744073709551615 kB\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		n, source, ok := parseMeminfo(data)
		if ok != (source != "") || n > 1<<63 {
			t.Fatalf("parseMeminfo(%q) = %d, %q, %v", data, n, source, ok)
		}
	})
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"4096", "8G", "1.5G", "18446744073709551615", "16777216T"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ParseSize(s)
		if err == nil && n > 1<<63 {
			t.Fatalf("ParseSize(%q) = %d, beyond 2^63", s, n)
		}
	})
}
