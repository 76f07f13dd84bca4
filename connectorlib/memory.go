package connectorlib

import (
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryGCPercent is the garbage collector's growth target (GOGC) when a
// memory limit is set. The connectors allocate a little per record and
// keep little: at Go's default of 100 the collector ran often enough to
// take 12-20% of the source's CPU in BenchmarkSource_Backlog. With the
// limit bounding the heap, collecting less often costs no more memory
// than the limit allows.
const memoryGCPercent = 400

// parseByteSize reads a size such as 100MiB, 512KiB, 1GiB or a plain
// number of bytes (the GOMEMLIMIT syntax, B/KiB/MiB/GiB/TiB); "0" and
// "off" give 0.
func parseByteSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if s == "off" || s == "0" {
		return 0, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	shift := uint(0)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, shift = num, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		return 0, errors.New("want a size such as 100MiB, 1GiB or a number of bytes, or off")
	}
	if n > (1<<62)>>shift {
		return 0, errors.New("too large")
	}
	return n << shift, nil
}

// ApplyMemoryLimit sets the Go runtime's soft memory limit to
// MEMORY_LIMIT and, with a limit set, the collector's growth target to
// memoryGCPercent, so that garbage collection costs less CPU while the
// heap stays under the limit. GOMEMLIMIT or GOGC in the environment win:
// the runtime has applied them, and nothing is changed. It reports the
// limit applied (0: none).
func (c OpsConfig) ApplyMemoryLimit() int64 {
	limit, err := parseByteSize(c.MemoryLimit)
	if err != nil || limit == 0 || os.Getenv("GOMEMLIMIT") != "" || os.Getenv("GOGC") != "" {
		return 0
	}
	debug.SetMemoryLimit(limit)
	debug.SetGCPercent(memoryGCPercent)
	return limit
}

// validateMemoryLimit checks MEMORY_LIMIT.
func (c OpsConfig) validateMemoryLimit() error {
	if _, err := parseByteSize(c.MemoryLimit); err != nil {
		return fmt.Errorf("%s_MEMORY_LIMIT: %w, got %q", EnvPrefix, err, c.MemoryLimit)
	}
	return nil
}
