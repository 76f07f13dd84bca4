package rest

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"strings"
)

// recorder captures a subrequest's response for the composite resources,
// which run subrequests through the same handlers as top-level requests.
type recorder struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newRecorder() *recorder { return &recorder{header: http.Header{}} }

func (r *recorder) Header() http.Header { return r.header }

func (r *recorder) WriteHeader(status int) {
	if r.status == 0 {
		r.status = status
	}
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	return r.body.Write(b)
}

func (r *recorder) code() int {
	if r.status == 0 {
		return http.StatusOK
	}
	return r.status
}

// result returns the recorded body as JSON: null for an empty body, a
// string for a non-JSON body.
func (r *recorder) result() json.RawMessage {
	b := bytes.TrimSpace(r.body.Bytes())
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	if json.Valid(b) {
		return json.RawMessage(b)
	}
	s, _ := marshal(r.body.String())
	return s
}

// subrequest builds the internal request for a composite subrequest. It
// copies the parent's context, so cancellation reaches subrequests.
func subrequest(parent *http.Request, method, target string, body []byte, headers map[string]string) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := http.NewRequestWithContext(parent.Context(), method, target, rd)
	if err != nil {
		return nil, err
	}
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.RemoteAddr, req.Host = parent.RemoteAddr, parent.Host
	return req, nil
}

// splitTarget splits a subrequest URL (/services/data/vXX.X/...) into its
// version and the escaped path and query after it.
func splitTarget(target string) (version, rest string, ok bool) {
	if !strings.HasPrefix(target, dataPrefix+"/") {
		return "", "", false
	}
	p, _, _ := strings.Cut(target, "?")
	version, rest, ok = splitVersion(strings.TrimPrefix(p, dataPrefix))
	return version, rest, ok
}
