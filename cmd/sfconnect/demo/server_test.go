package demo

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestEvents_StreamsEachChange: an open page gets the current state at
// once and then one event per change; an unchanged state sends nothing.
// The page's files are served from the binary.
func TestEvents_StreamsEachChange(t *testing.T) {
	s := New(Deps{Salesforce: &fakeOrg{}})
	srv := httptest.NewServer(s.Handler())
	defer srv.Close()
	s.publish([]byte(`{"n":1}`))

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/event-stream" {
		t.Fatalf("content type %q", ct)
	}
	events := make(chan string, 8)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			if d, ok := strings.CutPrefix(sc.Text(), "data: "); ok {
				events <- d
			}
		}
		close(events)
	}()
	next := func() string {
		select {
		case e := <-events:
			return e
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5s")
			return ""
		}
	}
	if e := next(); e != `{"n":1}` {
		t.Fatalf("first event %q", e)
	}
	s.publish([]byte(`{"n":1}`)) // unchanged: nothing sent
	s.publish([]byte(`{"n":2}`))
	if e := next(); e != `{"n":2}` {
		t.Fatalf("second event %q, want the change only", e)
	}

	for path, want := range map[string]string{"/": "sfconnect dev", "/app.js": "EventSource", "/style.css": "grid-template-columns"} {
		r, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(r.Body)
		r.Body.Close()
		if r.StatusCode != http.StatusOK || !strings.Contains(string(b), want) {
			t.Errorf("GET %s: %d, %d bytes without %q", path, r.StatusCode, len(b), want)
		}
	}
}
