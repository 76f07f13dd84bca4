package salesforce

import (
	"context"
	"fmt"
	"maps"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// maxPublishBatch bounds the events of one Pub/Sub Publish call. The API
// caps a publish request at 3 MB and recommends batches of up to 200
// events; change envelopes are small, so the count is what binds.
const maxPublishBatch = 200

// EventPublisher publishes platform events (salesforce/pubsub.Client
// satisfies it).
type EventPublisher interface {
	// PublishEvents publishes events to topic (/event/Name__e), each a map
	// of field name to value, and returns one error (nil: published) per
	// event, or err when the call as a whole failed and nothing is known
	// to be published.
	PublishEvents(ctx context.Context, topic string, events []map[string]any) (results []error, err error)
}

// publish is Write in platform_event mode: every change becomes one event
// whose fields are the change's mapped fields plus CreatedDate and
// CreatedById (required by every platform event schema). Changes are not
// coalesced: an event stream keeps every change.
func (s *Sink) publish(ctx context.Context, b *batchState, changes []*change) {
	topic := "/event/" + s.cfg.PlatformEvent
	self := s.user()
	for start := 0; start < len(changes); start += maxPublishBatch {
		chunk := changes[start:min(start+maxPublishBatch, len(changes))]
		events := make([]map[string]any, len(chunk))
		for i, c := range chunk {
			ev := maps.Clone(c.fields)
			if ev == nil {
				ev = map[string]any{}
			}
			ev["CreatedDate"] = s.now().UnixMilli()
			ev["CreatedById"] = self
			events[i] = ev
		}
		var results []error
		err := s.apiCall(ctx, apiPubSub, len(events), func(ctx context.Context) error {
			var err error
			results, err = s.deps.Publisher.PublishEvents(ctx, topic, events)
			return err
		})
		for i, c := range chunk {
			switch {
			case err != nil:
				s.fail(b, c.idx, fmt.Errorf("publish to %s: %w", topic, err))
			case results[i] != nil:
				s.fail(b, c.idx, results[i])
			default:
				s.metrics.written.WithLabelValues(s.metrics.connector, s.cfg.PlatformEvent, "publish").Inc()
			}
		}
	}
}

var _ connectorlib.Sink = (*Sink)(nil)
