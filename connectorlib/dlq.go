package connectorlib

import (
	"context"
	"fmt"
	"strconv"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// Dead-letter header keys. A dead-letter record keeps the original key,
// value and headers and adds these.
const (
	HeaderDLQTopic        = "sfconnect.dlq.topic"         // original topic
	HeaderDLQPartition    = "sfconnect.dlq.partition"     // original partition, decimal
	HeaderDLQOffset       = "sfconnect.dlq.offset"        // original offset, decimal
	HeaderDLQConnector    = "sfconnect.dlq.connector"     // connector name
	HeaderDLQErrorClass   = "sfconnect.dlq.error_class"   // a Class: permanent, retry_exhausted
	HeaderDLQErrorCode    = "sfconnect.dlq.error_code"    // machine code from PermanentCode, if any
	HeaderDLQErrorMessage = "sfconnect.dlq.error_message" // the error text, truncated
	HeaderDLQAttempts     = "sfconnect.dlq.attempts"      // write attempts made, decimal
	HeaderDLQTime         = "sfconnect.dlq.time"          // RFC 3339 time of dead-lettering
)

// maxDLQMessage bounds the error message header: a DLQ record must stay
// well under the broker's max message size even for huge error texts.
const maxDLQMessage = 4096

// dlqAttempts bounds how often one dead-letter write is tried before the
// session fails (and so commits nothing past the record).
const dlqAttempts = 5

// deadLetterRecord builds the dead-letter record for rec.
func deadLetterRecord(dlqTopic, connector string, rec *Record, class Class, cause error, attempts int) *kgo.Record {
	msg := cause.Error()
	if len(msg) > maxDLQMessage {
		msg = msg[:maxDLQMessage] + "...(truncated)"
	}
	hs := make([]kgo.RecordHeader, 0, len(rec.Headers)+9)
	for _, h := range rec.Headers {
		hs = append(hs, kgo.RecordHeader{Key: h.Key, Value: h.Value})
	}
	add := func(k, v string) { hs = append(hs, kgo.RecordHeader{Key: k, Value: []byte(v)}) }
	add(HeaderDLQTopic, rec.Topic)
	add(HeaderDLQPartition, strconv.FormatInt(int64(rec.Partition), 10))
	add(HeaderDLQOffset, strconv.FormatInt(rec.Offset, 10))
	add(HeaderDLQConnector, connector)
	add(HeaderDLQErrorClass, string(class))
	if code := Code(cause); code != "" {
		add(HeaderDLQErrorCode, code)
	}
	add(HeaderDLQErrorMessage, msg)
	add(HeaderDLQAttempts, strconv.Itoa(attempts))
	add(HeaderDLQTime, time.Now().UTC().Format(time.RFC3339Nano))
	return &kgo.Record{Topic: dlqTopic, Key: rec.Key, Value: rec.Value, Headers: hs, Timestamp: rec.Time}
}

// deadLetter writes rec to the dead-letter topic and waits until the broker
// acknowledged it. Only then may the record's offset be committed.
func (r *SinkRunner) deadLetter(ctx context.Context, cl *kgo.Client, rec *Record, class Class, cause error, attempts int) error {
	kr := deadLetterRecord(r.dlqTopic(), r.cfg.Name, rec, class, cause, attempts)
	b := Backoff{Initial: 200 * time.Millisecond, Max: 5 * time.Second}
	var err error
	for n := 1; n <= dlqAttempts; n++ {
		if err = cl.ProduceSync(ctx, kr).FirstErr(); err == nil {
			r.deps.Metrics.SinkDeadLetters.WithLabelValues(r.cfg.Name, string(class)).Inc()
			r.deps.Metrics.SinkRecords.WithLabelValues(r.cfg.Name, rec.Topic, "dlq").Inc()
			return nil
		}
		if sleep(ctx, b.Delay(n)) != nil {
			break
		}
	}
	return fmt.Errorf("write dead letter for %s/%d@%d: %w", rec.Topic, rec.Partition, rec.Offset, err)
}
