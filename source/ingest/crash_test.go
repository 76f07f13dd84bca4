package ingest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// Crash points of the child process.
const (
	// crashAfterRead: the runner has read the request's records and not
	// yet committed them.
	crashAfterRead = "read"
	// crashBeforeAck: the transaction (or the acked produce and position
	// store) is done, the HTTP response is not sent.
	crashBeforeAck = "ack"
)

// runChild runs the ingest source as a child process until SIGTERM; with
// INGEST_CRASH set it stops dead at that point, printing "crash-point",
// for the parent to SIGKILL it there.
func runChild() int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	cfg := testConfig(os.Getenv("INGEST_BASE"))
	cfg.Addr = os.Getenv("INGEST_ADDR")
	mode := connectorlib.DeliveryMode(os.Getenv("INGEST_MODE"))
	name := os.Getenv("INGEST_NAME")
	kafka := []kgo.Opt{kgo.SeedBrokers(strings.Split(os.Getenv("INGEST_BROKERS"), ",")...)}
	rc := New(cfg, Deps{Connector: name, Mode: mode, Kafka: kafka})
	srv, err := NewServer(cfg, rc.Handler())
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	go func() { _ = srv.Serve() }()
	point := os.Getenv("INGEST_CRASH")
	factory := func() (connectorlib.Source, error) {
		return &crashingSource{Source: newSession(rc), point: point}, nil
	}
	err = connectorlib.NewSourceRunner(testRunnerConfig(name, cfg.DedupTopic+".offsets", mode), factory,
		connectorlib.Deps{Kafka: kafka}).Run(ctx)
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = srv.Shutdown(sctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, "child:", err)
		return 1
	}
	return 0
}

// crashingSource stops the process dead at its crash point.
type crashingSource struct {
	connectorlib.Source
	point string
}

func (c *crashingSource) Read(ctx context.Context) ([]connectorlib.Record, error) {
	recs, err := c.Source.Read(ctx)
	if c.point == crashAfterRead && len(recs) > 0 {
		hang()
	}
	return recs, err
}

func (c *crashingSource) Ack(ctx context.Context, stream string, upTo connectorlib.Position) error {
	if c.point == crashBeforeAck {
		hang()
	}
	return c.Source.Ack(ctx, stream, upTo)
}

// hang announces the crash point and waits for the SIGKILL.
func hang() {
	fmt.Println("crash-point")
	time.Sleep(time.Hour)
}

// TestIngest_CrashBetweenReceiptAndCommit: sfsim's Outbound Message sender
// delivers 5 notifications to an ingest process that is SIGKILLed after
// receiving them, either before the Kafka commit or after it but before
// the Ack. The sender retries against a new process; Kafka then holds each
// notification exactly once (exactly_once), or at least once with the
// repeats flagged (at_least_once).
func TestIngest_CrashBetweenReceiptAndCommit(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	kafkatest.Each(t, func(t *testing.T, c *kafkatest.Cluster) {
		for _, mode := range []connectorlib.DeliveryMode{connectorlib.DeliveryExactlyOnce, connectorlib.DeliveryAtLeastOnce} {
			for _, point := range []string{crashAfterRead, crashBeforeAck} {
				t.Run(string(mode)+"/"+point, func(t *testing.T) {
					runCrash(t, c, exe, mode, point)
				})
			}
		}
	})
}

func runCrash(t *testing.T, c *kafkatest.Cluster, exe string, mode connectorlib.DeliveryMode, point string) {
	base := kafkatest.Topic(t, "crash")
	addr := freeAddr(t)
	env := []string{envChild + "=1", "INGEST_BASE=" + base, "INGEST_ADDR=" + addr, "INGEST_MODE=" + string(mode),
		"INGEST_NAME=crash-" + string(mode) + "-" + point, "INGEST_BROKERS=" + strings.Join(c.Seeds(), ",")}
	first := startChild(t, exe, append(env, "INGEST_CRASH="+point))

	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	om, err := sim.AddOutboundMessage(sfsim.OutboundMessage{Name: "Crash", Object: "Account", Fields: []string{"Name"},
		EndpointURL: "http://" + addr + "/outbound?token=" + testSecret,
		Retry:       sfsim.RetryPolicy{Initial: 100 * time.Millisecond, Max: 500 * time.Millisecond, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	err = sim.Transaction(func(tx *sfsim.Tx) error {
		for i := range 5 {
			id, err := tx.Create("Account", map[string]any{"Name": fmt.Sprint("crash ", i)})
			if err != nil {
				return err
			}
			want[id] = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-first.crashPoint:
	case <-time.After(90 * time.Second):
		first.kill()
		t.Fatalf("the child never reached its crash point; stderr:\n%s", first.stderr())
	}
	first.kill() // Invariant under test: receipt without an answer.
	if st := om.Stats(); st.Delivered != 0 {
		t.Fatalf("delivered before the crash: %+v", st)
	}
	second := startChild(t, exe, env)
	waitIdle(t, om)
	second.term(t)

	st := om.Stats()
	if st.Delivered != 5 || st.Failures < 1 {
		t.Fatalf("sender %+v; want 5 delivered after at least one failed attempt", st)
	}
	recs := readTopics(t, c, base+".Account")
	perNote := map[string]int{}
	unflagged := 0
	for _, r := range recs {
		if !want[r.key] {
			t.Fatalf("unexpected record %s", r.key)
		}
		perNote[r.headers[HeaderNotificationID]]++
		if r.headers[HeaderDuplicate] == "" {
			unflagged++
		}
	}
	t.Logf("%s, crash %s: %d records for 5 notifications, %d attempts, %d failed", mode, point, len(recs), st.Attempts, st.Failures)
	if len(perNote) != 5 {
		t.Fatalf("%d distinct notifications in Kafka, want 5", len(perNote))
	}
	if mode == connectorlib.DeliveryExactlyOnce || point == crashAfterRead {
		if len(recs) != 5 {
			t.Fatalf("%d records, want exactly 5: %v", len(recs), perNote)
		}
		return
	}
	// at_least_once after the commit: the retry is written again, flagged.
	if unflagged != 5 {
		t.Fatalf("%d unflagged records, want 5 (repeats flagged): %v", unflagged, perNote)
	}
}

// freeAddr returns a free loopback address for a child to listen on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// childProc is a running child process.
type childProc struct {
	cmd        *exec.Cmd
	crashPoint chan struct{}
	done       chan struct{}
	mu         sync.Mutex
	errBuf     strings.Builder
}

func (p *childProc) stderr() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.errBuf.String()
}

type lockedWriter struct{ p *childProc }

func (w lockedWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	defer w.p.mu.Unlock()
	return w.p.errBuf.Write(b)
}

func startChild(t *testing.T, exe string, env []string) *childProc {
	t.Helper()
	cmd := exec.Command(exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), env...)
	p := &childProc{cmd: cmd, crashPoint: make(chan struct{}), done: make(chan struct{})}
	cmd.Stderr = lockedWriter{p}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() {
		sc := bufio.NewScanner(out)
		once := sync.Once{}
		for sc.Scan() {
			if sc.Text() == "crash-point" {
				once.Do(func() { close(p.crashPoint) })
			}
		}
		_ = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(p.kill)
	return p
}

// kill SIGKILLs the child by its PID and waits for it (idempotent).
func (p *childProc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// term stops the child gracefully and checks it exited cleanly.
func (p *childProc) term(t *testing.T) {
	t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(30 * time.Second):
		p.kill()
		t.Fatalf("child did not stop on SIGTERM; stderr:\n%s", p.stderr())
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Fatalf("child exited %d; stderr:\n%s", code, p.stderr())
	}
}
