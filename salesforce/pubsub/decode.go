package pubsub

import (
	"context"
	"fmt"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
)

// decodeCode is the connectorlib code of events that do not decode.
const decodeCode = "DECODE"

// DecodeChange decodes a change event with its schema (fetched through
// [Client.Schema]) and returns both. The header's ChangedFields,
// NulledFields and DiffFields are turned from the wire's hex bitmaps into
// field names, in schema order, compound components as
// "Compound.Component" (for example BillingAddress.City); see
// cdc.Schema.DecodeFields. A payload or bitmap that does not decode, or an
// event whose schema is not a change event schema, is a permanent error
// with code DECODE; schema fetch errors keep their own class.
func (c *Client) DecodeChange(ctx context.Context, ev Event) (*cdc.ChangeEvent, *cdc.Schema, error) {
	schema, err := c.Schema(ctx, ev.SchemaID)
	if err != nil {
		return nil, nil, fmt.Errorf("decode change event %s: %w", ev.ID, err)
	}
	ce, err := schema.Decode(ev.Payload)
	if err != nil {
		return nil, nil, decodeError(ev, err)
	}
	h := &ce.Header
	for _, bm := range []*[]string{&h.ChangedFields, &h.NulledFields, &h.DiffFields} {
		names, err := schema.DecodeFields(*bm)
		if err != nil {
			return nil, nil, decodeError(ev, err)
		}
		*bm = names
	}
	return ce, schema, nil
}

// DecodeChangeFlat is [Client.DecodeChange] with the body flattened into
// into (see cdc.Schema.DecodeFlat), whose Fields slice is reused: the
// source's per-event path, without a map per record. Errors are those of
// DecodeChange.
func (c *Client) DecodeChangeFlat(ctx context.Context, ev Event, into *cdc.FlatChange) (*cdc.Schema, error) {
	schema, err := c.Schema(ctx, ev.SchemaID)
	if err != nil {
		return nil, fmt.Errorf("decode change event %s: %w", ev.ID, err)
	}
	if err := schema.DecodeFlat(ev.Payload, into); err != nil {
		return nil, decodeError(ev, err)
	}
	h := &into.Header
	for _, bm := range []*[]string{&h.ChangedFields, &h.NulledFields, &h.DiffFields} {
		names, err := schema.DecodeFields(*bm)
		if err != nil {
			return nil, decodeError(ev, err)
		}
		*bm = names
	}
	return schema, nil
}

// DecodePlatformFlat is [Client.DecodePlatform] with the fields flattened
// and appended to dst[:0] (see cdc.Schema.DecodePlatformFlat).
func (c *Client) DecodePlatformFlat(ctx context.Context, ev Event, dst []cdc.FlatField) ([]cdc.FlatField, *cdc.Schema, error) {
	schema, err := c.Schema(ctx, ev.SchemaID)
	if err != nil {
		return nil, nil, fmt.Errorf("decode platform event %s: %w", ev.ID, err)
	}
	fields, err := schema.DecodePlatformFlat(ev.Payload, dst)
	if err != nil {
		return nil, nil, decodeError(ev, err)
	}
	return fields, schema, nil
}

// DecodePlatform decodes a platform event with its schema (fetched through
// [Client.Schema]) and returns both. Errors are classified as for
// [Client.DecodeChange].
func (c *Client) DecodePlatform(ctx context.Context, ev Event) (*cdc.PlatformEvent, *cdc.Schema, error) {
	schema, err := c.Schema(ctx, ev.SchemaID)
	if err != nil {
		return nil, nil, fmt.Errorf("decode platform event %s: %w", ev.ID, err)
	}
	pe, err := schema.DecodePlatform(ev.Payload)
	if err != nil {
		return nil, nil, decodeError(ev, err)
	}
	return pe, schema, nil
}

// decodeError marks an event that cannot be decoded as permanent. The text
// names the event, never its payload.
func decodeError(ev Event, err error) error {
	return connectorlib.PermanentCode(decodeCode,
		fmt.Errorf("decode event %s (replay id %x, schema %s): %w", ev.ID, ev.ReplayID, ev.SchemaID, err))
}
