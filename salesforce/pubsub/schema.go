package pubsub

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// schemaEntry is one schema id in the cache: done is closed when schema or
// err is set. Failed entries are removed before done is closed, so the next
// call fetches again.
type schemaEntry struct {
	done   chan struct{}
	schema *cdc.Schema
	err    error
}

// Schema returns the event schema the server registered under schemaID
// (ConsumerEvent.event.schema_id or TopicInfo.schema_id), parsed with
// cdc.ParseSchema. Schemas are cached for the life of the client by the
// server's id (the returned Schema's own ID is cdc's fingerprint, which
// need not match it on a real org): each id is fetched with GetSchema once,
// however many goroutines ask for it at the same time: the first fetches,
// the others wait for its result. Failures are not cached, so the next call
// fetches again. A waiting caller whose ctx ends returns ctx's error while
// the fetch goes on; when the fetching caller's ctx ends instead, a waiting
// caller fetches in its place.
func (c *Client) Schema(ctx context.Context, schemaID string) (*cdc.Schema, error) {
	if schemaID == "" {
		return nil, connectorlib.PermanentCode("SCHEMA_ID", errors.New("get schema: the schema id is empty"))
	}
	for {
		c.schemaMu.Lock()
		e, ok := c.schemas[schemaID]
		if !ok {
			e = &schemaEntry{done: make(chan struct{})}
			c.schemas[schemaID] = e
			c.schemaMu.Unlock()
			c.fetchSchema(ctx, schemaID, e)
			return e.schema, e.err
		}
		c.schemaMu.Unlock()
		select {
		case <-e.done:
		case <-ctx.Done():
			return nil, fmt.Errorf("get schema %s: %w", schemaID, ctx.Err())
		}
		if e.err == nil {
			return e.schema, nil
		}
		// The fetching caller's context ended, not ours: fetch ourselves.
		if (errors.Is(e.err, context.Canceled) || errors.Is(e.err, context.DeadlineExceeded)) && ctx.Err() == nil {
			continue
		}
		return nil, e.err
	}
}

// fetchSchema fills e with the schema fetched and parsed for id, and
// publishes it.
func (c *Client) fetchSchema(ctx context.Context, id string, e *schemaEntry) {
	op := "get schema " + id
	var info *pubsubpb.SchemaInfo
	err := c.unary(ctx, op, func(ctx context.Context, opts ...grpc.CallOption) error {
		var err error
		info, err = c.api.GetSchema(ctx, &pubsubpb.SchemaRequest{SchemaId: id}, opts...)
		return err
	})
	if err == nil {
		e.schema, err = cdc.ParseSchema(info.GetSchemaJson())
		if err != nil {
			err = connectorlib.PermanentCode("INVALID_SCHEMA", fmt.Errorf("%s (rpc id %s): %w", op, info.GetRpcId(), err))
		}
	}
	if err != nil {
		e.schema, e.err = nil, err
		c.schemaMu.Lock()
		if c.schemas[id] == e {
			delete(c.schemas, id)
		}
		c.schemaMu.Unlock()
	}
	close(e.done)
}
