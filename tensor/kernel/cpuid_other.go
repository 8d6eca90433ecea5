//go:build !amd64 || purego

package kernel

// cpuidCaches reports false: this build cannot execute CPUID (another architecture, or the
// purego tag, which has no assembly); the caches come from the OS or the defaults.
func cpuidCaches() (CacheSizes, bool) { return CacheSizes{}, false }
