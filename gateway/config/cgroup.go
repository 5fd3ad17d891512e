package config

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// cgroupMemoryLimit returns the memory limit of this process's cgroup, v2
// (memory.max) or v1 (memory.limit_in_bytes), read under root (normally
// /sys/fs/cgroup) for the cgroup paths in procCgroup (the text of
// /proc/self/cgroup), and at root itself (a container's own namespace).
// It reports false when there is none: no file, "max", or v1's "no limit"
// (a value near the largest int64).
func cgroupMemoryLimit(root, procCgroup string) (int64, bool) {
	var candidates []string
	for line := range strings.SplitSeq(procCgroup, "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		switch {
		case parts[0] == "0" && parts[1] == "": // v2
			candidates = append(candidates, filepath.Join(root, parts[2], "memory.max"))
		case strings.Contains(","+parts[1]+",", ",memory,"): // v1
			candidates = append(candidates, filepath.Join(root, "memory", parts[2], "memory.limit_in_bytes"))
		}
	}
	candidates = append(candidates, filepath.Join(root, "memory.max"), filepath.Join(root, "memory", "memory.limit_in_bytes"))
	for _, c := range candidates {
		b, err := os.ReadFile(c)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(b))
		if v == "max" {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= 1<<62 {
			continue
		}
		return n, true
	}
	return 0, false
}

// containerMemoryLimit is cgroupMemoryLimit for this process.
func containerMemoryLimit() (int64, bool) {
	b, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return 0, false
	}
	return cgroupMemoryLimit("/sys/fs/cgroup", string(b))
}
