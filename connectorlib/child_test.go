package connectorlib

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Child exit codes.
const (
	childOK     = 0
	childFailed = 1
	childFenced = 3
)

// runChild runs one child role until SIGTERM and returns its exit code.
func runChild(role string) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	// From here on SIGTERM is a graceful stop; the parent waits for this
	// line before it sends one.
	fmt.Println("ready")
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	deps := Deps{Kafka: []kgo.Opt{
		kgo.SeedBrokers(strings.Split(os.Getenv("KT_BROKERS"), ",")...),
		kgo.WithLogger(kgo.BasicLogger(os.Stderr, kgo.LogLevelWarn, nil)),
	}, Logger: logger}
	var err error
	switch role {
	case "source":
		total, _ := strconv.Atoi(os.Getenv("KT_TOTAL"))
		cfg := testSourceConfig(os.Getenv("KT_NAME"), os.Getenv("KT_OFFSETS"), DeliveryMode(os.Getenv("KT_MODE")))
		topic := os.Getenv("KT_TOPIC")
		err = NewSourceRunner(cfg, func() (Source, error) {
			src := newNumberSource(topic, 2, total, 200, 97)
			src.pace = time.Millisecond
			src.progress = func(acked int) { fmt.Printf("acked %d\n", acked) }
			return src, nil
		}, deps).Run(ctx)
	case "sink":
		cfg := testSinkConfig(os.Getenv("KT_NAME"), os.Getenv("KT_TOPIC"), os.Getenv("KT_DLQ"))
		cfg.InstanceID = "member-0"
		var sink *fileSink
		sink, err = openFileSink(os.Getenv("KT_FILE"))
		if err == nil {
			err = NewSinkRunner(cfg, sink, deps).Run(ctx)
		}
	default:
		err = fmt.Errorf("unknown child role %q", role)
	}
	if errors.Is(err, ErrFenced) {
		fmt.Fprintln(os.Stderr, "fenced:", err)
		return childFenced
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "child failed:", err)
		return childFailed
	}
	return childOK
}

func testSourceConfig(name, offsets string, mode DeliveryMode) SourceConfig {
	return SourceConfig{
		Name: name, StreamGroup: "0", DeliveryMode: mode, OffsetsTopic: offsets,
		MaxInFlight: 5000, OffsetFlushInterval: 20 * time.Millisecond, TransactionTimeout: 10 * time.Second,
		TopicAutoCreate: true, TopicPartitions: 4, TopicReplication: -1,
		ShutdownTimeout: 20 * time.Second, RestartBackoffMax: time.Second,
	}
}

func testSinkConfig(name, topic, dlq string) SinkConfig {
	return SinkConfig{
		Name: name, Topics: []string{topic}, DLQTopic: dlq, DLQPartitions: 1,
		BatchMaxRecords: 100, MaxPollRecords: 1000, Parallelism: 4,
		RetryInitial: 5 * time.Millisecond, RetryMax: 50 * time.Millisecond, RetryMaxAttempts: 4,
		OnRetryExhausted: ExhaustedDLQ, SessionTimeout: 6 * time.Second,
		ShutdownTimeout: 20 * time.Second, RestartBackoffMax: time.Second,
	}
}

// child is a running child process.
type child struct {
	cmd      *exec.Cmd
	stderr   *syncBuffer
	done     chan struct{}
	err      error
	progress atomic.Int64 // last "acked N" the child printed
	ready    atomic.Bool  // the child handles SIGTERM
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startChild re-runs this test binary in role with env added.
func startChild(t *testing.T, role string, env ...string) *child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), envChild+"="+role), env...)
	c := &child{cmd: cmd, stderr: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stderr = c.stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start child: %v", err)
	}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var n int64
			if _, err := fmt.Sscanf(sc.Text(), "acked %d", &n); err == nil {
				c.progress.Store(n)
			} else if sc.Text() == "ready" {
				c.ready.Store(true)
			}
		}
		c.err = cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		select {
		case <-c.done:
		default:
			_ = cmd.Process.Kill()
			<-c.done
		}
	})
	return c
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill(t *testing.T) {
	t.Helper()
	_ = c.cmd.Process.Signal(syscall.SIGKILL)
	<-c.done
}

// terminate sends SIGTERM and returns the exit code.
func (c *child) terminate(t *testing.T, within time.Duration) int {
	t.Helper()
	deadline := time.Now().Add(within)
	for !c.ready.Load() && !c.exited() && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	_ = c.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-c.done:
	case <-time.After(within):
		t.Fatalf("child did not stop within %s of SIGTERM; output:\n%s", within, c.stderr.String())
	}
	return c.cmd.ProcessState.ExitCode()
}

// fileSink appends every record it applies to a file as
// "topic partition offset value" lines and fsyncs before Write returns, so
// what it reports applied survives a SIGKILL. Values starting with
// "poison" are rejected permanently.
type fileSink struct {
	mu      sync.Mutex
	f       *os.File
	applied int // records applied by this process, printed as progress
}

func openFileSink(path string) (*fileSink, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, err
	}
	return &fileSink{f: f}, nil
}

func (s *fileSink) Open(context.Context) error { return nil }

func (s *fileSink) Write(_ context.Context, batch []Record) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	be := NewBatchError()
	for i, r := range batch {
		if bytes.HasPrefix(r.Value, []byte("poison")) {
			be.Add(i, PermanentCode("POISON", fmt.Errorf("record %s is poisoned", r.Value)))
			continue
		}
		// One line and one fsync per record: a kill lands mid-batch.
		if _, err := fmt.Fprintf(s.f, "%s %d %d %s ok\n", r.Topic, r.Partition, r.Offset, r.Value); err != nil {
			return err
		}
		if err := s.f.Sync(); err != nil {
			return err
		}
	}
	s.applied += len(batch) - be.Len()
	fmt.Printf("acked %d\n", s.applied)
	if be.Len() > 0 {
		return be
	}
	return nil
}

func (s *fileSink) Close(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.f.Close()
}

// appliedLine is one line of a fileSink file.
type appliedLine struct {
	partition int32
	offset    int64
	value     string
}

func readApplied(t *testing.T, path string) []appliedLine {
	t.Helper()
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []appliedLine
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var topic, end string
		var l appliedLine
		if _, err := fmt.Sscanf(sc.Text(), "%s %d %d %s %s", &topic, &l.partition, &l.offset, &l.value, &end); err != nil || end != "ok" {
			// A SIGKILL can leave a torn last line; it was not reported
			// applied, so it is ignored.
			continue
		}
		out = append(out, l)
	}
	return out
}
