package demo

import (
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"
)

// TestEchoWatcher counts the sink's writes: tagged ones as suppressed,
// untagged ones as echoes; other clients' changes and values that are no
// envelope count as neither.
func TestEchoWatcher(t *testing.T) {
	w := NewEchoWatcher("dev-sink")
	for _, v := range []string{
		`{"origin_client":"dev-sink","loop_tagged":true}`,
		`{"origin_client":"dev-sink","loop_tagged":true}`,
		`{"origin_client":"dev-sink","loop_tagged":false}`,
		`{"origin_client":"someone-else","loop_tagged":false}`,
		`{"origin_client":null}`,
		`not json`,
		``,
	} {
		w.observe(&kgo.Record{Value: []byte(v)})
	}
	if got, want := w.Counts(), (EchoCounts{Echoes: 1, Suppressed: 2, Read: 7}); got != want {
		t.Errorf("counts %+v, want %+v", got, want)
	}
}
