package sysmem

import "os"

func available() (uint64, string, bool) {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0, "", false
	}
	n, source, ok := parseMeminfo(data)
	if !ok {
		return 0, "", false
	}
	max, err1 := os.ReadFile("/sys/fs/cgroup/memory.max")
	cur, err2 := os.ReadFile("/sys/fs/cgroup/memory.current")
	if err1 == nil && err2 == nil {
		if left, ok := cgroupLeft(max, cur); ok && left < n {
			return left, "the cgroup's memory.max", true
		}
	}
	return n, source, true
}
