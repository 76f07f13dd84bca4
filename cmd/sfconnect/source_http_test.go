package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/sfconnect/sfconnect/connectorlib/kafkaio"
	"github.com/sfconnect/sfconnect/connectorlib/kafkatest"
	"github.com/sfconnect/sfconnect/salesforce/sfsim"
)

// TestRunSourceHTTP_BadEnvironment: `source http` with bad settings exits 2
// and names every variable at fault, without echoing the secret.
func TestRunSourceHTTP_BadEnvironment(t *testing.T) {
	const secret = "short-secret"
	tests := []struct {
		name    string
		env     map[string]string
		want    []string
		notWant []string
	}{
		{
			name: "required settings missing",
			env:  map[string]string{},
			want: []string{"SFCONNECT_HTTP_OBJECTS: required but not set"},
		},
		{
			name: "outbound needs an org id and a long secret",
			env:  map[string]string{"SFCONNECT_HTTP_OBJECTS": "Account", "SFCONNECT_HTTP_SECRET": secret},
			want: []string{"SFCONNECT_HTTP_ORGANIZATION_ID: required with the outbound endpoint",
				"SFCONNECT_HTTP_SECRET: required, at least 16 characters"},
			notWant: []string{secret},
		},
		{
			name: "bad values",
			env: map[string]string{"SFCONNECT_HTTP_OBJECTS": "Account,Bad Name", "SFCONNECT_HTTP_ENDPOINTS": "webhook,ftp",
				"SFCONNECT_HTTP_WEBHOOK_AUTH": "basic", "SFCONNECT_HTTP_MAX_BODY_BYTES": "10", "SFCONNECT_HTTP_ACK_TIMEOUT": "5ms",
				"SFCONNECT_HTTP_RATE_LIMIT": "-1", "SFCONNECT_HTTP_DEDUP_WINDOW": "1s"},
			want: []string{`SFCONNECT_HTTP_OBJECTS: "Bad Name" is not an sObject name`, `SFCONNECT_HTTP_ENDPOINTS: "ftp" is not an endpoint`,
				`SFCONNECT_HTTP_WEBHOOK_AUTH: must be hmac, secret or mtls, got "basic"`, "SFCONNECT_HTTP_MAX_BODY_BYTES: must be at least 1024",
				"SFCONNECT_HTTP_ACK_TIMEOUT: must be at least 1s", "SFCONNECT_HTTP_RATE_LIMIT: must not be negative",
				"SFCONNECT_HTTP_DEDUP_WINDOW: must be at least 1m"},
		},
		{
			name: "mtls needs TLS files",
			env: map[string]string{"SFCONNECT_HTTP_OBJECTS": "*", "SFCONNECT_HTTP_ENDPOINTS": "outbound",
				"SFCONNECT_HTTP_ORGANIZATION_ID": "00D8a00000SIMRGEA5", "SFCONNECT_HTTP_OUTBOUND_AUTH": "mtls",
				"SFCONNECT_HTTP_TLS_CERT_FILE": "/nonexistent/cert.pem"},
			want: []string{"SFCONNECT_HTTP_TLS_CERT_FILE and SFCONNECT_HTTP_TLS_KEY_FILE: set both or neither",
				"SFCONNECT_HTTP_TLS_CLIENT_CA_FILE: mtls authentication needs it", "SFCONNECT_HTTP_TLS_CERT_FILE: stat /nonexistent/cert.pem"},
		},
		{
			name: "bad org id",
			env: map[string]string{"SFCONNECT_HTTP_OBJECTS": "Account", "SFCONNECT_HTTP_ORGANIZATION_ID": "001000000000001",
				"SFCONNECT_HTTP_SECRET": "a-long-enough-secret-value"},
			want: []string{`SFCONNECT_HTTP_ORGANIZATION_ID: "001000000000001" is not an org id`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			t.Setenv("SFCONNECT_CONNECTOR_NAME", "ingest1")
			t.Setenv("SFCONNECT_KAFKA_BROKERS", "127.0.0.1:9092")
			t.Setenv("SFCONNECT_OPS_ADDR", "")
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			var stdout, stderr bytes.Buffer
			code := run([]string{"source", "http"}, &stdout, &stderr)
			out := stdout.String() + stderr.String()
			if code != exitConfig {
				t.Fatalf("exit code %d, want %d; output:\n%s", code, exitConfig, out)
			}
			for _, w := range tt.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			for _, w := range tt.notWant {
				if strings.Contains(out, w) {
					t.Errorf("output contains %q:\n%s", w, out)
				}
			}
		})
	}
}

// sourceHTTPHelperEnv makes the test binary run `sfconnect source http`
// (TestSourceHTTPHelperProcess). It has no SFCONNECT_ prefix, which the
// configuration loader would reject as an unknown variable.
const sourceHTTPHelperEnv = "SOURCE_HTTP_TEST_CHILD"

// TestSourceHTTPHelperProcess is not a test: it is the child process of
// TestRunSourceHTTP_EndToEnd.
func TestSourceHTTPHelperProcess(t *testing.T) {
	if os.Getenv(sourceHTTPHelperEnv) == "" {
		return
	}
	os.Exit(run([]string{"source", "http"}, os.Stdout, os.Stderr))
}

// TestRunSourceHTTP_EndToEnd runs `sfconnect source http` as a child
// process against kfake: once ready (/readyz), sfsim's webhook emitter
// posts three Accounts with the shared secret, they are in Kafka, the
// endpoint's metrics count the requests, and SIGTERM stops it with exit 0.
func TestRunSourceHTTP_EndToEnd(t *testing.T) {
	c := kafkatest.NewFake(t)
	topicBase := kafkatest.Topic(t, "cmd-ingest")
	httpAddr, opsAddr := freeLoopbackAddr(t), freeLoopbackAddr(t)
	const secret = "cmd-test-secret-0123456789"
	env := []string{
		sourceHTTPHelperEnv + "=1",
		"SFCONNECT_CONNECTOR_NAME=cmd-ingest", "SFCONNECT_KAFKA_BROKERS=" + strings.Join(c.Seeds(), ","),
		"SFCONNECT_OPS_ADDR=" + opsAddr, "SFCONNECT_HTTP_ADDR=" + httpAddr, "SFCONNECT_HTTP_ENDPOINTS=webhook",
		"SFCONNECT_HTTP_OBJECTS=Account", "SFCONNECT_HTTP_WEBHOOK_AUTH=secret", "SFCONNECT_HTTP_SECRET=" + secret,
		"SFCONNECT_HTTP_TOPIC_TEMPLATE=" + topicBase + ".{entity}", "SFCONNECT_HTTP_DEDUP_TOPIC=" + topicBase + ".dedup",
		"SFCONNECT_OFFSETS_TOPIC=" + topicBase + ".offsets",
	}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SFCONNECT_") {
			env = append(env, kv)
		}
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestSourceHTTPHelperProcess$", "-test.count=1")
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stopped := false
	defer func() {
		if !stopped {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + opsAddr + "/readyz")
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		select {
		case <-exited:
			stopped = true
			t.Fatalf("exited before ready; stderr:\n%s", stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("not ready in 60s; stderr:\n%s", stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	sim, err := sfsim.New()
	if err != nil {
		t.Fatal(err)
	}
	defer sim.Close()
	wh, err := sim.AddWebhook(sfsim.Webhook{Name: "Hook", Object: "Account", URL: "http://" + httpAddr + "/webhook",
		Headers: map[string]string{"X-Sfconnect-Secret": secret},
		Retry:   sfsim.RetryPolicy{Initial: 50 * time.Millisecond, Max: 200 * time.Millisecond, Timeout: 30 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := sim.Create("Account", map[string]any{"Name": fmt.Sprint("cmd ", i)}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := wh.WaitIdle(ctx); err != nil {
		t.Fatal(err)
	}
	if st := wh.Stats(); st.Delivered != 3 || st.Failures != 0 {
		t.Fatalf("emitter %+v; stderr:\n%s", st, stderr.String())
	}
	resp, err := http.Get("http://" + opsAddr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if !regexp.MustCompile(`sfconnect_ingest_requests_total\{code="200",connector="cmd-ingest",endpoint="webhook"\} 3`).Match(metrics) ||
		!bytes.Contains(metrics, []byte("sfconnect_ingest_request_seconds_bucket")) {
		t.Fatalf("metrics lack the ingest counters:\n%s", metrics)
	}

	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-exited:
		stopped = true
	case <-time.After(30 * time.Second):
		t.Fatalf("no exit 30s after SIGTERM; stderr:\n%s", stderr.String())
	}
	if code := cmd.ProcessState.ExitCode(); code != exitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, stderr.String())
	}
	var n int
	rctx, rcancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer rcancel()
	err = kafkaio.ReadCommitted(rctx, c.Admin(t), c.Opts(), topicBase+".Account", 10*time.Second, func(r *kgo.Record) error {
		n++
		return nil
	})
	if err != nil || n != 3 {
		t.Fatalf("%d records in Kafka (%v), want 3", n, err)
	}
}

// freeLoopbackAddr returns a free 127.0.0.1 address for a child to listen on.
func freeLoopbackAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
