package salesforce

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Conflict is one change that lost, in whole or in part, to a Salesforce
// edit: the record the conflicts topic holds for review. Its Kafka key is
// the input record's key.
type Conflict struct {
	Connector string `json:"connector"`
	// Policy is the object's conflict policy; Outcome is webapp_lost or
	// fields_lost.
	Policy  string `json:"policy"`
	Outcome string `json:"outcome"`
	SObject string `json:"sobject"`
	// LostFields lists the Salesforce fields that kept Salesforce's value;
	// empty when the whole change lost.
	LostFields []string `json:"lost_fields,omitempty"`
	// WebApp is the change as it arrived.
	WebApp *Change `json:"webapp"`
	// Salesforce is the record as the sink read it before deciding: Id,
	// LastModifiedDate, LastModifiedById and the fields the change named.
	Salesforce map[string]any `json:"salesforce"`
	// Source locates the input record.
	Source     ConflictSource `json:"source"`
	DetectedAt time.Time      `json:"detected_at"`

	key []byte
}

// ConflictSource is where a losing change was read from.
type ConflictSource struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	Offset    int64  `json:"offset"`
}

// Header keys of conflict records.
const (
	HeaderConflictIdempotencyKey = "sfconnect.conflict.idempotency_key"
	HeaderConflictOutcome        = "sfconnect.conflict.outcome"
)

// ConflictWriter stores conflict records durably.
type ConflictWriter interface {
	// WriteConflicts returns once every conflict is durably stored, or an
	// error (then the sink reports the changes as failed, retryably, so
	// that none is committed without its conflict record).
	WriteConflicts(ctx context.Context, cs []Conflict) error
}

// KafkaConflicts writes conflicts to a Kafka topic with a client the
// caller owns, configured with acks=all (kgo's default), so a produced
// conflict is durable.
type KafkaConflicts struct {
	Client *kgo.Client
	Topic  string
}

// WriteConflicts implements ConflictWriter.
func (k KafkaConflicts) WriteConflicts(ctx context.Context, cs []Conflict) error {
	recs := make([]*kgo.Record, len(cs))
	for i := range cs {
		v, err := json.Marshal(&cs[i])
		if err != nil {
			return fmt.Errorf("encode conflict: %w", err)
		}
		recs[i] = &kgo.Record{Topic: k.Topic, Key: cs[i].key, Value: v, Headers: []kgo.RecordHeader{
			{Key: HeaderConflictIdempotencyKey, Value: []byte(cs[i].WebApp.IdempotencyKey)},
			{Key: HeaderConflictOutcome, Value: []byte(cs[i].Outcome)},
			{Key: "sfconnect.conflict.source_offset", Value: []byte(strconv.FormatInt(cs[i].Source.Offset, 10))},
		}}
	}
	if err := k.Client.ProduceSync(ctx, recs...).FirstErr(); err != nil {
		return fmt.Errorf("produce %d conflicts to %s: %w", len(cs), k.Topic, err)
	}
	return nil
}
