package deploy_test

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The facts the deployment files are checked against come from the
// sfconnect binary itself, built once from this checkout: the variables it
// reads (`sfconnect env`), its subcommands (its usage), and the metrics it
// exports (monitoring_test.go).

// repoRoot is the module root, relative to this package's directory.
const repoRoot = ".."

var (
	binDir   string
	binOnce  sync.Once
	binPath  string
	errBuild error
)

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "sfconnect-deploy-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// sfconnectBinary builds ./cmd/sfconnect once per test run and returns its
// path.
func sfconnectBinary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		goBin, err := exec.LookPath("go")
		if err != nil {
			errBuild = fmt.Errorf("find the go command: %w", err)
			return
		}
		binPath = filepath.Join(binDir, "sfconnect")
		args := []string{"build", "-o", binPath}
		if raceEnabled {
			args = append(args, "-race")
		}
		cmd := exec.Command(goBin, append(args, "./cmd/sfconnect")...)
		cmd.Dir = repoRoot
		if out, err := cmd.CombinedOutput(); err != nil {
			errBuild = fmt.Errorf("go build ./cmd/sfconnect: %v\n%s", err, out)
		}
	})
	if errBuild != nil {
		t.Fatal(errBuild)
	}
	return binPath
}

// binaryOutput runs the binary with args and returns its stdout.
func binaryOutput(t testing.TB, args ...string) string {
	t.Helper()
	cmd := execCommand(t, args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("sfconnect %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String()
}

// configVar is one variable of `sfconnect env`.
type configVar struct {
	Name   string
	Secret bool // the binary redacts it: it must come from a Secret
}

var envRow = regexp.MustCompile("^\\| `(SFCONNECT_[A-Z0-9_]+)` \\|(.*)\\|$")

// knownVars returns every variable the binary reads, from `sfconnect env`
// (the generator of docs/configuration.md).
func knownVars(t testing.TB) map[string]configVar {
	t.Helper()
	vars := map[string]configVar{}
	sc := bufio.NewScanner(strings.NewReader(binaryOutput(t, "env")))
	for sc.Scan() {
		m := envRow.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		v := vars[m[1]]
		v.Name = m[1]
		v.Secret = v.Secret || strings.Contains(m[2], "Secret: never logged.")
		vars[m[1]] = v
	}
	// A floor well below today's count: fewer means the output format
	// changed and the parse above silently matched nothing useful.
	if len(vars) < 40 {
		t.Fatalf("sfconnect env listed %d variables; did its table format change?", len(vars))
	}
	return vars
}

// subcommands returns the command paths of the binary's usage ("source",
// "sink cosmos", ...).
func subcommands(t testing.TB) []string {
	t.Helper()
	out, err := execCommand(t, "help").CombinedOutput()
	if err != nil {
		t.Fatalf("sfconnect help: %v\n%s", err, out)
	}
	var paths []string
	inList := false
	for _, line := range strings.Split(string(out), "\n") {
		switch {
		case strings.HasPrefix(line, "usage:"):
			inList = true
		case inList && strings.HasPrefix(line, "  "):
			// "  sink cosmos      apply ..." : the path is the words before
			// the run of spaces that pads it.
			if f := strings.SplitN(strings.TrimSpace(line), "  ", 2); len(f) == 2 {
				paths = append(paths, strings.TrimSpace(f[0]))
			}
		}
	}
	if len(paths) < 4 {
		t.Fatalf("no subcommands found in the usage:\n%s", out)
	}
	return paths
}

// commandPath returns the subcommand args start with, or "".
func commandPath(paths []string, args []string) string {
	best := ""
	for _, p := range paths {
		w := strings.Fields(p)
		if len(w) <= len(args) && strings.Join(args[:len(w)], " ") == p && len(p) > len(best) {
			best = p
		}
	}
	return best
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// What the binary says once past configuration when a connector ran and
// stopped on a runtime error (cmd/sfconnect runtime.go, serve) because the
// deployment's broker cannot be reached from here. Any other runtime error
// may be a configuration problem found late (a CA file read when the client
// is built) and fails the check.
const stoppedOnError = "stopped on error"

// unreachable are the errors of a broker or host this machine cannot reach.
var unreachable = []string{"no such host", "unable to dial", "connection refused", "i/o timeout"}

func stoppedUnreachable(out string) bool {
	if !strings.Contains(out, stoppedOnError) {
		return false
	}
	for _, s := range unreachable {
		if strings.Contains(out, s) {
			return true
		}
	}
	return false
}

// checkConfig starts `sfconnect args...` with env and reports whether the
// binary accepted the configuration. Every command loads and validates all
// its variables before doing anything else and exits with code 2 when one
// is wrong; a connector that gets past that serves /healthz on its
// operations port, or stops because the deployment's broker is unreachable
// from this machine. The process is stopped by PID.
func checkConfig(t *testing.T, args []string, env map[string]string) error {
	t.Helper()
	ops := freeAddr(t)
	cmd := execCommand(t, args...)
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	// The files' own operations address (and the ingest source's HTTP
	// address) are container ports; the check listens on loopback.
	cmd.Env = append(cmd.Env, "SFCONNECT_OPS_ADDR="+ops)
	if _, ok := env["SFCONNECT_HTTP_ADDR"]; ok {
		cmd.Env = append(cmd.Env, "SFCONNECT_HTTP_ADDR="+freeAddr(t))
	}
	c := startChild(t, cmd)
	defer c.stop()
	deadline := time.Now().Add(30 * time.Second)
	served := time.Time{} // when /healthz first answered
	for time.Now().Before(deadline) {
		if c.exited() {
			var exit *exec.ExitError
			switch {
			case errors.As(c.err, &exit) && exit.ExitCode() == 1 &&
				stoppedUnreachable(c.out.String()):
				return nil
			case errors.As(c.err, &exit) && exit.ExitCode() == 2:
				return fmt.Errorf("configuration rejected:\n%s", c.out.String())
			default:
				return fmt.Errorf("exited (%v):\n%s", c.err, c.out.String())
			}
		}
		switch {
		case !served.IsZero() && time.Since(served) > 2*time.Second:
			// Serving, and still running well after the connector was
			// built from the configuration.
			return nil
		case served.IsZero():
			if resp, err := http.Get("http://" + ops + "/healthz"); err == nil {
				resp.Body.Close()
				served = time.Now()
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no /healthz on %s within 30s:\n%s", ops, c.out.String())
}

// lockedBuffer is a bytes.Buffer safe for the writes of a child process's
// copy goroutines and reads of the test.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// execCommand returns `sfconnect args...` in a clean environment: none of
// the test's own SFCONNECT_* variables leak in.
func execCommand(t testing.TB, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(sfconnectBinary(t), args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	return cmd
}

// child is a started sfconnect process with its combined output.
type child struct {
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan struct{}
	err  error // Wait's result, once done is closed
}

// startChild starts cmd and stops it by PID when t ends.
func startChild(t testing.TB, cmd *exec.Cmd) *child {
	t.Helper()
	c := &child{cmd: cmd, out: &lockedBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = c.out, c.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", cmd.Path, err)
	}
	go func() { c.err = cmd.Wait(); close(c.done) }()
	t.Cleanup(c.stop)
	return c
}

// exited reports whether the process has ended.
func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// stop sends SIGTERM, waits up to 15s, then kills; it is idempotent.
func (c *child) stop() {
	if c.exited() {
		return
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(15 * time.Second):
		_ = c.cmd.Process.Kill()
		<-c.done
	}
}
