package sfsim

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"google.golang.org/grpc/codes"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/pubsubserver"
)

// Surface names one of the simulator's APIs, for fault injection.
type Surface string

// The surfaces faults can target.
const (
	SurfaceREST   Surface = "rest"   // /services/data/...
	SurfaceOAuth  Surface = "oauth"  // /services/oauth2/... and SOAP login
	SurfacePubSub Surface = "pubsub" // the gRPC Pub/Sub API
	SurfaceCometD Surface = "cometd" // /cometd/...
)

// Fault is an injected failure.
type Fault struct {
	// Status is the HTTP status (REST, OAuth, CometD) of the failure, e.g.
	// 503 or 403. For Pub/Sub it selects the gRPC code by the usual HTTP
	// mapping (429/403 resource exhausted or permission denied, 503
	// unavailable, 401 unauthenticated, 400 invalid argument).
	Status int `json:"status"`
	// ErrorCode is Salesforce's error code, e.g. REQUEST_LIMIT_EXCEEDED or,
	// for Pub/Sub, the error-code trailer value.
	ErrorCode string `json:"errorCode"`
	// Message is the error message.
	Message string `json:"message"`
	// Delay is added before answering (throttling); with Status 0 the
	// request then proceeds normally.
	Delay time.Duration `json:"delay"`
}

// faults holds the pending injected failures per surface.
type faults struct {
	mu      sync.Mutex
	pending map[Surface][]Fault
}

// add queues n copies of f for surface.
func (fs *faults) add(surface Surface, n int, f Fault) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if fs.pending == nil {
		fs.pending = map[Surface][]Fault{}
	}
	for range n {
		fs.pending[surface] = append(fs.pending[surface], f)
	}
}

// take pops the next fault of surface, if any.
func (fs *faults) take(surface Surface) (Fault, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	q := fs.pending[surface]
	if len(q) == 0 {
		return Fault{}, false
	}
	fs.pending[surface] = q[1:]
	return q[0], true
}

// httpFault applies the next fault of surface to an HTTP request: it sleeps
// for the delay and returns the status and Salesforce error body to send.
func (fs *faults) httpFault(surface Surface) func(r *http.Request) (int, []byte, bool) {
	return func(r *http.Request) (int, []byte, bool) {
		f, ok := fs.take(surface)
		if !ok {
			return 0, nil, false
		}
		if f.Delay > 0 {
			t := time.NewTimer(f.Delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
			}
		}
		if f.Status == 0 {
			return 0, nil, false
		}
		body, _ := json.Marshal([]map[string]any{{"message": f.Message, "errorCode": f.ErrorCode}})
		return f.Status, body, true
	}
}

// pubsubFault applies the next Pub/Sub fault at the start of an RPC.
func (s *Sim) pubsubFault(call pubsubserver.Call) error {
	if !call.Start {
		return nil
	}
	f, ok := s.faults.take(SurfacePubSub)
	if !ok {
		return nil
	}
	if f.Delay > 0 {
		time.Sleep(f.Delay)
	}
	if f.Status == 0 {
		return nil
	}
	code := codes.Unavailable
	switch f.Status {
	case http.StatusBadRequest:
		code = codes.InvalidArgument
	case http.StatusUnauthorized:
		code = codes.Unauthenticated
	case http.StatusForbidden:
		code = codes.PermissionDenied
	case http.StatusNotFound:
		code = codes.NotFound
	case http.StatusTooManyRequests:
		code = codes.ResourceExhausted
	}
	errorCode := f.ErrorCode
	if errorCode == "" && code == codes.Unavailable {
		errorCode = pubsub.ErrorCodeServiceUnavailable
	}
	return &pubsubserver.Error{Code: code, ErrorCode: errorCode, Message: f.Message}
}
