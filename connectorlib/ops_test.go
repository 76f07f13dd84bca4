package connectorlib

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestOpsServer_Serve_HealthReadinessAndMetrics(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h := NewHealth()
	srv, err := NewOpsServer("127.0.0.1:0", reg, h)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve() }()
	defer func() {
		if err := srv.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	}()

	if code, _ := get(t, srv.URL()+"/readyz"); code != http.StatusServiceUnavailable {
		t.Fatalf("readyz with no component = %d, want 503", code)
	}
	h.SetReady("source:a", true)
	h.SetReady("sink:b", false)
	code, body := get(t, srv.URL()+"/readyz")
	var ready struct {
		NotReady []string `json:"not_ready"`
	}
	_ = json.Unmarshal([]byte(body), &ready)
	if code != http.StatusServiceUnavailable || len(ready.NotReady) != 1 || ready.NotReady[0] != "sink:b" {
		t.Fatalf("readyz = %d %s, want 503 naming sink:b", code, body)
	}
	h.SetReady("sink:b", true)
	if code, _ := get(t, srv.URL()+"/readyz"); code != http.StatusOK {
		t.Fatalf("readyz with all ready = %d", code)
	}

	if code, _ := get(t, srv.URL()+"/healthz"); code != http.StatusOK {
		t.Fatalf("healthz = %d", code)
	}
	h.Fail("fenced by another instance")
	if code, body := get(t, srv.URL()+"/healthz"); code != http.StatusServiceUnavailable || !strings.Contains(body, "fenced") {
		t.Fatalf("healthz after Fail = %d %s", code, body)
	}

	m.SinkDeadLetters.WithLabelValues("conn", string(ClassPermanent)).Add(3)
	_, body = get(t, srv.URL()+"/metrics")
	if !strings.Contains(body, `sfconnect_sink_dead_letters_total{class="permanent",connector="conn"} 3`) {
		t.Fatalf("metrics lack the dead-letter counter:\n%s", body)
	}
}

func TestOpsConfig_NewLogger_LevelAndFormat(t *testing.T) {
	var b strings.Builder
	l := OpsConfig{LogLevel: "warn", LogFormat: "json"}.NewLogger(&b)
	l.Info("hidden")
	l.Warn("shown", "k", "v")
	out := b.String()
	if strings.Contains(out, "hidden") || !strings.Contains(out, `"msg":"shown"`) || !strings.Contains(out, `"k":"v"`) {
		t.Fatalf("unexpected log output: %s", out)
	}
}
