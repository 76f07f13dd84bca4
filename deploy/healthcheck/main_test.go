package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestRun_ExitCodes(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/readyz":
			_, _ = w.Write([]byte(`{"status":"ok"}`))
		case "/slow":
			time.Sleep(500 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = w.Write([]byte(`{"status":"unavailable"}`))
		}
	}))
	defer srv.Close()
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	deadURL := "http://" + closed.Addr().String() + "/readyz"
	closed.Close()

	for _, tc := range []struct {
		name       string
		args       []string
		want       int
		wantStderr string
	}{
		{name: "ready", args: []string{srv.URL + "/readyz"}, want: exitHealthy},
		{name: "not ready", args: []string{srv.URL + "/healthz"}, want: exitUnhealthy, wantStderr: "503"},
		{name: "nothing listening", args: []string{deadURL}, want: exitUnhealthy, wantStderr: "refused"},
		{name: "timeout", args: []string{"-timeout", "100ms", srv.URL + "/slow"}, want: exitUnhealthy, wantStderr: "deadline"},
		{name: "no URL", args: nil, want: exitUsage, wantStderr: "usage"},
		{name: "not http", args: []string{"tcp://127.0.0.1:9090"}, want: exitUsage, wantStderr: "want an http(s) URL"},
		{name: "bad flag", args: []string{"-nope", srv.URL}, want: exitUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stderr strings.Builder
			if got := run(tc.args, &stderr); got != tc.want {
				t.Fatalf("exit %d, want %d; stderr:\n%s", got, tc.want, stderr.String())
			}
			if !strings.Contains(stderr.String(), tc.wantStderr) {
				t.Fatalf("stderr %q does not mention %q", stderr.String(), tc.wantStderr)
			}
		})
	}
}
