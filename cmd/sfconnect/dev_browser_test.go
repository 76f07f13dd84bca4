package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/http"
	"net/url"
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

// envBrowserRequired, when "1", makes a missing Chromium or playwright-core
// a failure rather than a skip (scripts/test.sh sets it).
const envBrowserRequired = "TEST_BROWSER_REQUIRED"

// chromiumPath is Debian's chromium, which the browser test drives.
const chromiumPath = "/usr/bin/chromium"

// devPageLine is the line `sfconnect dev` prints once the page is served.
var devPageLine = regexp.MustCompile(`^sfconnect dev page: (http://127\.0\.0\.1:\d+/) `)

// devReadyLine names the Cosmos DB stand-in's endpoint.
var devReadyLine = regexp.MustCompile(`^sfconnect dev ready .* cosmos=(https://\S+)$`)

// TestDevPageInBrowser builds the sfconnect binary, runs `sfconnect dev` on
// random loopback ports with traffic on both sides, and drives its page
// in headless Chromium (test/browser/demo.test.js): an edit in the
// Salesforce column appears in the web-app (Cosmos) column, an edit in the
// web-app column appears in Salesforce and comes back into Cosmos, the
// echo count stays 0 while the source tagged the sink's write, and the
// screenshot lands in artifacts/demo.png. Then Ctrl-C (SIGINT) stops
// everything: exit code 0, and the Cosmos DB child no longer listens.
func TestDevPageInBrowser(t *testing.T) {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	requireBrowser(t, root)
	if _, err := os.Stat(filepath.Join(root, "test", "cosmos", "node_modules", "@vercel", "cosmosdb-server")); err != nil {
		if os.Getenv("TEST_COSMOS_REQUIRED") == "1" {
			t.Fatal("the Cosmos DB stand-in is not installed (make node-install)")
		}
		t.Skip("the Cosmos DB stand-in is not installed; run make node-install")
	}

	bin := filepath.Join(t.TempDir(), "sfconnect")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "dev", "-kafka", "127.0.0.1:0", "-sim-http", "127.0.0.1:0", "-sim-grpc", "127.0.0.1:0",
		"-http", "127.0.0.1:0", "-generate", "1", "-generate-webapp", "1", "-cosmos-dir", filepath.Join(root, "test", "cosmos"))
	var stderr lockedBuffer
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	lines := make(chan string, 16)
	var rest lockedBuffer
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			default:
				rest.Write([]byte(sc.Text() + "\n"))
			}
		}
		close(lines)
	}()
	started := time.Now()
	var pageURL, cosmosURL string
	deadline := time.After(90 * time.Second)
	for pageURL == "" {
		select {
		case line, ok := <-lines:
			if !ok {
				t.Fatalf("sfconnect dev exited before serving its page; stderr:\n%s", stderr.String())
			}
			if m := devReadyLine.FindStringSubmatch(line); m != nil {
				cosmosURL = m[1]
			}
			if m := devPageLine.FindStringSubmatch(line); m != nil {
				pageURL = m[1]
			}
		case <-deadline:
			t.Fatalf("sfconnect dev did not serve its page within 90s; stderr:\n%s", stderr.String())
		}
	}
	if cosmosURL == "" {
		t.Fatal("the ready line did not name the Cosmos DB endpoint")
	}
	t.Logf("sfconnect dev served its page %v after start", time.Since(started).Round(time.Millisecond))

	artifacts := filepath.Join(root, "artifacts")
	if err := os.MkdirAll(artifacts, 0o755); err != nil {
		t.Fatal(err)
	}
	shot := filepath.Join(artifacts, "demo.png")
	_ = os.Remove(shot)
	bctx, bcancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer bcancel()
	browser := exec.CommandContext(bctx, "node", filepath.Join(root, "test", "browser", "demo.test.js"), pageURL, shot)
	browser.Env = append(os.Environ(), "CHROMIUM_PATH="+chromiumPath)
	var bout, berr bytes.Buffer
	browser.Stdout, browser.Stderr = &bout, &berr
	if err := browser.Run(); err != nil {
		t.Fatalf("browser test: %v\n%s\n%s\nsfconnect dev stderr:\n%s", err, bout.String(), berr.String(), stderr.String())
	}
	var got struct {
		SalesforceEdit struct{ ID, Name string } `json:"salesforceEdit"`
		WebEdit        struct{ ID, Name string } `json:"webEdit"`
		Echoes         string                    `json:"echoes"`
		Suppressed     string                    `json:"suppressed"`
		Sinks          [][]string                `json:"sinks"`
	}
	if err := json.Unmarshal(bout.Bytes(), &got); err != nil {
		t.Fatalf("browser test output %q: %v", bout.String(), err)
	}
	t.Logf("browser: %s", strings.TrimSpace(bout.String()))
	if got.Echoes != "0" || got.Suppressed == "0" || got.SalesforceEdit.ID == got.WebEdit.ID {
		t.Errorf("browser saw echoes %s, suppressed %s, edits of %s and %s", got.Echoes, got.Suppressed, got.SalesforceEdit.ID, got.WebEdit.ID)
	}
	if fi, err := os.Stat(shot); err != nil || fi.Size() < 10_000 {
		t.Errorf("screenshot %s: %v (size %v)", shot, err, fi)
	}
	checkDevState(t, pageURL, got.WebEdit.ID, got.WebEdit.Name)

	// Ctrl-C: everything stops, the Node child included.
	interrupted := time.Now()
	if err := cmd.Process.Signal(syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-exited:
		stopped = true
		if err != nil {
			t.Fatalf("sfconnect dev after SIGINT: %v; stderr:\n%s", err, stderr.String())
		}
		t.Logf("sfconnect dev stopped %v after SIGINT", time.Since(interrupted).Round(time.Millisecond))
	case <-time.After(60 * time.Second):
		t.Fatalf("sfconnect dev did not stop within 60s of SIGINT; stderr:\n%s", stderr.String())
	}
	u, err := url.Parse(cosmosURL)
	if err != nil {
		t.Fatal(err)
	}
	if c, err := net.DialTimeout("tcp", u.Host, 2*time.Second); err == nil {
		c.Close()
		t.Errorf("the Cosmos DB stand-in still listens on %s after sfconnect dev stopped", u.Host)
	}
}

// checkDevState reads the page's state as JSON: the web-app edit is in
// both columns and no echo was counted.
func checkDevState(t *testing.T, pageURL, id, name string) {
	t.Helper()
	hc := &http.Client{Timeout: 10 * time.Second}
	resp, err := hc.Get(pageURL + "state")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var st struct {
		Columns struct {
			Salesforce, WebApp []struct {
				ID, Name string
				Present  bool
			}
		}
		Echo struct{ Echoes, Suppressed int64 }
	}
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		t.Fatal(err)
	}
	if st.Echo.Echoes != 0 || st.Echo.Suppressed < 1 {
		t.Errorf("state: echoes %d, suppressed %d; want 0 and at least 1", st.Echo.Echoes, st.Echo.Suppressed)
	}
	found := 0
	for _, side := range [][]struct {
		ID, Name string
		Present  bool
	}{st.Columns.Salesforce, st.Columns.WebApp} {
		for _, r := range side {
			if r.ID == id && r.Present && r.Name == name {
				found++
			}
		}
	}
	if found != 2 {
		t.Errorf("state: the web-app edit of %s (%q) is in %d of the 2 columns", id, name, found)
	}
}

// requireBrowser skips (or, with TEST_BROWSER_REQUIRED=1, fails) when
// Chromium or playwright-core is missing.
func requireBrowser(t *testing.T, root string) {
	t.Helper()
	var missing []string
	if _, err := os.Stat(chromiumPath); err != nil {
		missing = append(missing, chromiumPath+" (apt-get install chromium)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		missing = append(missing, "node")
	}
	if _, err := os.Stat(filepath.Join(root, "test", "browser", "node_modules", "playwright-core")); err != nil {
		missing = append(missing, "test/browser/node_modules/playwright-core (make node-install)")
	}
	if len(missing) == 0 {
		return
	}
	if os.Getenv(envBrowserRequired) == "1" {
		t.Fatalf("the browser test needs: %s", strings.Join(missing, ", "))
	}
	t.Skipf("the browser test needs: %s; set %s=1 to fail instead", strings.Join(missing, ", "), envBrowserRequired)
}

// TestDevWithoutCosmosStandIn: without the stand-in's Node modules, dev
// says what to run and exits 2 before starting anything.
func TestDevWithoutCosmosStandIn(t *testing.T) {
	var stdout, stderr bytes.Buffer
	code := run([]string{"dev", "-kafka", "127.0.0.1:0", "-sim-http", "127.0.0.1:0", "-sim-grpc", "127.0.0.1:0",
		"-http", "127.0.0.1:0", "-cosmos-dir", t.TempDir()}, &stdout, &stderr)
	if code != exitConfig {
		t.Fatalf("exit code %d, want %d; stderr: %s", code, exitConfig, stderr.String())
	}
	if !strings.Contains(stderr.String(), "make node-install") {
		t.Errorf("stderr does not say what to run: %s", stderr.String())
	}
	if stdout.Len() != 0 {
		t.Errorf("dev printed %q although nothing started", stdout.String())
	}
}

// TestDevRejectsNonLoopbackPage: the page, like the broker, listens on
// loopback only.
func TestDevRejectsNonLoopbackPage(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"dev", "-http", "0.0.0.0:8080"}, &stdout, &stderr); code != exitConfig {
		t.Fatalf("exit code %d, want %d", code, exitConfig)
	}
	if !strings.Contains(stderr.String(), "-http") {
		t.Errorf("stderr does not name the flag: %s", stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer safe for a writer goroutine and a
// reading test.
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
