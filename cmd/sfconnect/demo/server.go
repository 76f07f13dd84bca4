package demo

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/twmb/franz-go/pkg/kgo"
)

// refreshEvery is how often the page's state is read and, when it
// changed, pushed to every open page.
const refreshEvery = 500 * time.Millisecond

// Deps are the parts of the running stack the page reads and writes.
type Deps struct {
	Salesforce Salesforce
	// Container is the web application's Cosmos DB container, which the
	// Cosmos sink writes.
	Container *azcosmos.ContainerClient
	// Producer publishes web-app changes to WebAppTopic.
	Producer    *kgo.Client
	WebAppTopic string
	// Metrics gathers the connectors' metrics for the status panel.
	Metrics prometheus.Gatherer
	Echoes  *EchoWatcher
	Logger  *slog.Logger
}

// Server serves the page, its event stream and its edit endpoints.
type Server struct {
	deps Deps

	mu      sync.Mutex
	state   []byte        // the latest state, JSON
	ids     []string      // Accounts the container holds, of the latest state
	changed chan struct{} // closed and replaced when state changes
	edits   int64         // web-app changes published, for idempotency keys
}

// State is what one server-sent event carries.
type State struct {
	Columns Columns    `json:"columns"`
	Echo    EchoCounts `json:"echo"`
	Status  Status     `json:"status"`
	// Error is the last failure reading a side, if any; the columns are
	// then the last good ones.
	Error string `json:"error,omitempty"`
}

// New returns a server; Run refreshes its state.
func New(deps Deps) *Server {
	if deps.Logger == nil {
		deps.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{deps: deps, changed: make(chan struct{})}
}

// Handler returns the page's routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /", http.FileServerFS(assets()))
	mux.HandleFunc("GET /events", s.events)
	mux.HandleFunc("GET /state", s.current)
	mux.HandleFunc("POST /api/salesforce", s.editSalesforce)
	mux.HandleFunc("POST /api/webapp", s.editWebApp)
	return mux
}

// Run reads both sides and the metrics every refreshEvery until ctx is
// done.
func (s *Server) Run(ctx context.Context) {
	t := time.NewTicker(refreshEvery)
	defer t.Stop()
	var r rates
	var last Columns
	for {
		st := State{Echo: s.deps.Echoes.Counts()}
		rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		cols, err := columns(rctx, s.deps.Salesforce, s.deps.Container)
		cancel()
		if err != nil {
			st.Error = err.Error()
			cols = last
		}
		last, st.Columns = cols, cols
		s.setIDs(cols)
		if st.Status, err = readStatus(s.deps.Metrics, s.deps.Salesforce, &r, time.Now()); err != nil {
			st.Error = err.Error()
		}
		if b, err := json.Marshal(st); err == nil {
			s.publish(b)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// setIDs keeps the Ids of the Accounts the container holds, for the
// web-app traffic generator.
func (s *Server) setIDs(cols Columns) {
	ids := make([]string, 0, len(cols.WebApp))
	for _, r := range cols.WebApp {
		if r.Present {
			ids = append(ids, r.ID)
		}
	}
	s.mu.Lock()
	s.ids = ids
	s.mu.Unlock()
}

// publish stores b as the state and wakes every stream if it changed.
func (s *Server) publish(b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if string(b) == string(s.state) {
		return
	}
	s.state = b
	close(s.changed)
	s.changed = make(chan struct{})
}

// snapshot returns the state and the channel closed on its next change.
func (s *Server) snapshot() ([]byte, <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state, s.changed
}

// current answers the latest state once, as JSON.
func (s *Server) current(w http.ResponseWriter, _ *http.Request) {
	b, _ := s.snapshot()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}

// events streams the state as server-sent events, one per change, until
// the page goes away.
func (s *Server) events(w http.ResponseWriter, req *http.Request) {
	fl, ok := w.(http.Flusher)
	if !ok {
		http.Error(w, "streaming unsupported", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	for {
		b, changed := s.snapshot()
		if b != nil {
			if _, err := w.Write([]byte("data: ")); err != nil {
				return
			}
			_, _ = w.Write(b)
			if _, err := w.Write([]byte("\n\n")); err != nil {
				return
			}
			fl.Flush()
		}
		select {
		case <-req.Context().Done():
			return
		case <-changed:
		}
	}
}
