package pubsub

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/hamba/avro/v2"
	"google.golang.org/grpc"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// CodePublish is the connectorlib code of an event the server refused.
const CodePublish = "PUBLISH"

// PublishEvents publishes platform events to topic (/event/Name__e) with
// one Publish call: each event is a map of field name to value, encoded in
// Avro with the topic's current schema (GetTopic, then GetSchema, cached).
// Values are converted to the field's type (numbers to long or double,
// anything to string, epoch milliseconds to timestamps); fields the event
// does not set are null.
//
// It returns one error per event, in order (nil: published), or err when
// the call as a whole failed and nothing is known to be published. An
// event that does not fit the schema fails alone, permanently, before the
// call; an event the server refuses fails with code PUBLISH.
func (c *Client) PublishEvents(ctx context.Context, topic string, events []map[string]any) ([]error, error) {
	info, err := c.GetTopic(ctx, topic)
	if err != nil {
		return nil, err
	}
	if !info.GetCanPublish() {
		return nil, connectorlib.PermanentCode(CodePublish, fmt.Errorf("publish to %s: the topic does not accept publishing", topic))
	}
	schema, err := c.Schema(ctx, info.GetSchemaId())
	if err != nil {
		return nil, err
	}
	rec, ok := schema.Avro().(*avro.RecordSchema)
	if !ok {
		return nil, connectorlib.Permanent(fmt.Errorf("publish to %s: schema %s is not a record", topic, info.GetSchemaId()))
	}
	results := make([]error, len(events))
	var sent []*pubsubpb.ProducerEvent
	var index []int
	for i, ev := range events {
		payload, err := encodeEvent(rec, ev)
		if err != nil {
			results[i] = connectorlib.PermanentCode(CodePublish, fmt.Errorf("encode event for %s: %w", topic, err))
			continue
		}
		sent = append(sent, &pubsubpb.ProducerEvent{SchemaId: info.GetSchemaId(), Payload: payload})
		index = append(index, i)
	}
	if len(sent) == 0 {
		return results, nil
	}
	var resp *pubsubpb.PublishResponse
	err = c.unary(ctx, "publish to "+topic, func(ctx context.Context, opts ...grpc.CallOption) error {
		var err error
		resp, err = c.api.Publish(ctx, &pubsubpb.PublishRequest{TopicName: topic, Events: sent}, opts...)
		return err
	})
	if err != nil {
		return nil, err
	}
	if got := len(resp.GetResults()); got != len(sent) {
		return nil, connectorlib.Retryable(fmt.Errorf("publish to %s: %d results for %d events", topic, got, len(sent)))
	}
	for k, r := range resp.GetResults() {
		if e := r.GetError(); e != nil {
			results[index[k]] = connectorlib.PermanentCode(CodePublish, fmt.Errorf("publish to %s: %s: %s", topic, e.GetCode(), e.GetMsg()))
		}
	}
	return results, nil
}

// encodeEvent encodes ev with the event schema, converting each value to
// its field's type.
func encodeEvent(rec *avro.RecordSchema, ev map[string]any) ([]byte, error) {
	known := map[string]bool{}
	out := make(map[string]any, len(rec.Fields()))
	for _, f := range rec.Fields() {
		known[f.Name()] = true
		v, ok := ev[f.Name()]
		if !ok || v == nil {
			out[f.Name()] = nil
			continue
		}
		cv, err := convert(f.Type(), v)
		if err != nil {
			return nil, fmt.Errorf("field %s: %w", f.Name(), err)
		}
		out[f.Name()] = cv
	}
	for k := range ev {
		if !known[k] {
			return nil, fmt.Errorf("the event has no field %s", k)
		}
	}
	return avro.Marshal(rec, out)
}

// convert turns v into what hamba/avro encodes for schema s.
func convert(s avro.Schema, v any) (any, error) {
	if u, ok := s.(*avro.UnionSchema); ok {
		for _, t := range u.Types() {
			if t.Type() != avro.Null {
				cv, err := convert(t, v)
				if err != nil {
					return nil, err
				}
				// A map with the branch name selects the union branch.
				return map[string]any{unionName(t): cv}, nil
			}
		}
		return nil, fmt.Errorf("union %s has no non-null branch", s)
	}
	p, ok := s.(*avro.PrimitiveSchema)
	if !ok {
		return nil, fmt.Errorf("unsupported field type %s", s.Type())
	}
	switch p.Type() {
	case avro.String:
		switch x := v.(type) {
		case string:
			return x, nil
		case json.Number:
			return x.String(), nil
		}
		return fmt.Sprint(v), nil
	case avro.Boolean:
		switch x := v.(type) {
		case bool:
			return x, nil
		case string:
			return strconv.ParseBool(x)
		}
	case avro.Long, avro.Int:
		n, err := toInt(v)
		if err != nil {
			return nil, err
		}
		if l := p.Logical(); l != nil && (l.Type() == avro.TimestampMillis || l.Type() == avro.TimestampMicros) {
			return time.UnixMilli(n).UTC(), nil
		}
		if p.Type() == avro.Int {
			return int32(n), nil
		}
		return n, nil
	case avro.Double, avro.Float:
		f, err := toFloat(v)
		if err != nil {
			return nil, err
		}
		if p.Type() == avro.Float {
			return float32(f), nil
		}
		return f, nil
	}
	return nil, fmt.Errorf("cannot encode %T as %s", v, p.Type())
}

// unionName is the branch name hamba expects for a union member.
func unionName(s avro.Schema) string {
	if n, ok := s.(avro.NamedSchema); ok {
		return n.FullName()
	}
	if p, ok := s.(*avro.PrimitiveSchema); ok && p.Logical() != nil {
		return string(p.Type()) + "." + string(p.Logical().Type())
	}
	return string(s.Type())
}

func toInt(v any) (int64, error) {
	switch x := v.(type) {
	case int64:
		return x, nil
	case int:
		return int64(x), nil
	case int32:
		return int64(x), nil
	case float64:
		return int64(x), nil
	case json.Number:
		return x.Int64()
	case string:
		return strconv.ParseInt(x, 10, 64)
	}
	return 0, fmt.Errorf("cannot encode %T as a long", v)
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case int:
		return float64(x), nil
	case json.Number:
		return x.Float64()
	case string:
		return strconv.ParseFloat(x, 64)
	}
	return 0, fmt.Errorf("cannot encode %T as a double", v)
}
