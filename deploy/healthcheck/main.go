// Command sfconnect-healthcheck is the health check of the sfconnect
// container image. The image is distroless (no shell, no curl or wget), so
// container health checks run this static binary: it sends one GET to the
// URL it is given, typically an ops server's /readyz or /healthz, and exits
// 0 on a 2xx answer, 1 on any other answer or error, 2 on bad usage.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"
)

// Exit codes.
const (
	exitHealthy   = 0
	exitUnhealthy = 1
	exitUsage     = 2
)

func main() {
	os.Exit(run(os.Args[1:], os.Stderr))
}

func run(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sfconnect-healthcheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	// Docker's own health check timeout defaults to 30s; a probe that hangs
	// longer than the check interval only delays the verdict, so give up
	// well before it.
	timeout := fs.Duration("timeout", 3*time.Second, "give up after this long")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sfconnect-healthcheck [-timeout 3s] http://127.0.0.1:9090/readyz")
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 || *timeout <= 0 {
		fs.Usage()
		return exitUsage
	}
	u, err := url.Parse(fs.Arg(0))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		fmt.Fprintf(stderr, "sfconnect-healthcheck: want an http(s) URL, got %q\n", fs.Arg(0))
		return exitUsage
	}
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		fmt.Fprintln(stderr, "sfconnect-healthcheck:", err)
		return exitUsage
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(stderr, "sfconnect-healthcheck:", err)
		return exitUnhealthy
	}
	defer resp.Body.Close()
	// The body (the ops server's reasons) goes to the health log Docker
	// keeps, bounded so that a misdirected probe cannot flood it.
	_, _ = io.Copy(stderr, io.LimitReader(resp.Body, 1024))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		fmt.Fprintf(stderr, "\nsfconnect-healthcheck: %s answered %s\n", u.Redacted(), resp.Status)
		return exitUnhealthy
	}
	return exitHealthy
}
