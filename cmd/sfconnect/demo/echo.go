package demo

import (
	"context"
	"encoding/json"
	"sync/atomic"

	"github.com/twmb/franz-go/pkg/kgo"
)

// EchoWatcher reads the source's Account topic as the web application's
// consumer would, and counts the Salesforce sink's own writes coming back:
// tagged ones (loop_tagged, which the web application ignores: suppressed)
// and untagged ones (echoes, which it would take for a Salesforce user's
// edit and send back). The page shows both; echoes must stay 0.
type EchoWatcher struct {
	clientID   string
	suppressed atomic.Int64
	echoes     atomic.Int64
	read       atomic.Int64
}

// NewEchoWatcher watches for changes whose origin is clientID, the
// Salesforce sink's Sforce-Call-Options client id.
func NewEchoWatcher(clientID string) *EchoWatcher { return &EchoWatcher{clientID: clientID} }

// Run consumes the source topic with cl (configured to consume it, read
// committed) until ctx is done.
func (w *EchoWatcher) Run(ctx context.Context, cl *kgo.Client) {
	for ctx.Err() == nil {
		fs := cl.PollFetches(ctx)
		fs.EachRecord(w.observe)
	}
}

// observe counts one source record. Values that are not a JSON change
// envelope are not the sink's writes and are ignored.
func (w *EchoWatcher) observe(r *kgo.Record) {
	w.read.Add(1)
	var env struct {
		OriginClient *string `json:"origin_client"`
		LoopTagged   bool    `json:"loop_tagged"`
	}
	if json.Unmarshal(r.Value, &env) != nil || env.OriginClient == nil || *env.OriginClient != w.clientID {
		return
	}
	if env.LoopTagged {
		w.suppressed.Add(1)
	} else {
		w.echoes.Add(1)
	}
}

// EchoCounts is what the page shows about echoes.
type EchoCounts struct {
	// Echoes are the sink's writes that reached the web application
	// untagged.
	Echoes int64 `json:"echoes"`
	// Suppressed are the sink's writes the source tagged, which the
	// web application ignores (the Cosmos sink still applies them).
	Suppressed int64 `json:"suppressed"`
	// Read is every record read from the source topic.
	Read int64 `json:"read"`
}

// Counts returns the counts so far.
func (w *EchoWatcher) Counts() EchoCounts {
	return EchoCounts{Echoes: w.echoes.Load(), Suppressed: w.suppressed.Load(), Read: w.read.Load()}
}
