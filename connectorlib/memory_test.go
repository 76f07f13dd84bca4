package connectorlib

import (
	"runtime/debug"
	"strings"
	"testing"
)

func TestParseByteSize(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		in   string
		want int64
		bad  bool
	}{
		{"100MiB", 100 << 20, false}, {"512KiB", 512 << 10, false}, {"2GiB", 2 << 30, false}, {"1TiB", 1 << 40, false},
		{"123", 123, false}, {"123B", 123, false}, {" 64MiB ", 64 << 20, false}, {"0", 0, false}, {"off", 0, false},
		{"", 0, true}, {"100MB", 0, true}, {"-1MiB", 0, true}, {"1.5GiB", 0, true}, {"MiB", 0, true}, {"99999999TiB", 0, true},
	} {
		got, err := parseByteSize(c.in)
		if (err != nil) != c.bad || got != c.want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d (error %v)", c.in, got, err, c.want, c.bad)
		}
	}
}

func TestOpsConfig_Validate_MemoryLimit(t *testing.T) {
	t.Parallel()
	c := OpsConfig{HTTPAddr: ":0", LogLevel: "info", LogFormat: "json", MemoryLimit: "lots"}
	if err := c.Validate(); err == nil || !strings.Contains(err.Error(), EnvPrefix+"_MEMORY_LIMIT") {
		t.Fatalf("Validate = %v, want an error naming %s_MEMORY_LIMIT", err, EnvPrefix)
	}
	c.MemoryLimit = "off"
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
}

// TestOpsConfig_ApplyMemoryLimit sets the process's limit and GC target,
// and leaves both be when the environment sets them (not parallel: it
// changes process state and the environment; restored at the end).
func TestOpsConfig_ApplyMemoryLimit(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	oldPercent := debug.SetGCPercent(100)
	debug.SetGCPercent(oldPercent)
	t.Cleanup(func() {
		debug.SetMemoryLimit(oldLimit)
		debug.SetGCPercent(oldPercent)
	})
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")

	if got := (OpsConfig{MemoryLimit: "64MiB"}).ApplyMemoryLimit(); got != 64<<20 {
		t.Fatalf("applied %d", got)
	}
	if lim := debug.SetMemoryLimit(-1); lim != 64<<20 {
		t.Fatalf("runtime limit %d, want 64MiB", lim)
	}
	if p := debug.SetGCPercent(memoryGCPercent); p != memoryGCPercent {
		t.Fatalf("GC percent %d, want %d", p, memoryGCPercent)
	}

	debug.SetMemoryLimit(oldLimit)
	if got := (OpsConfig{MemoryLimit: "off"}).ApplyMemoryLimit(); got != 0 || debug.SetMemoryLimit(-1) != oldLimit {
		t.Fatalf("off applied %d", got)
	}
	t.Setenv("GOGC", "50")
	if got := (OpsConfig{MemoryLimit: "64MiB"}).ApplyMemoryLimit(); got != 0 || debug.SetMemoryLimit(-1) != oldLimit {
		t.Fatalf("with GOGC set, applied %d", got)
	}
}
