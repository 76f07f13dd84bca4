package pubsubserver

import (
	"context"
	"strings"
	"sync"

	"google.golang.org/grpc/codes"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/cdc"
	"github.com/sfconnect/sfconnect/salesforce/pubsub/pubsubpb"
)

// registry holds every schema the server has derived, so that GetSchema
// serves the schema of any event ever delivered, including events published
// before their object gained a field. Schemas are derived on first use and
// kept for the life of the server (there are few: one per describe version
// per object, one per platform event definition).
type registry struct {
	mu         sync.RWMutex
	byID       map[string]*cdc.Schema
	byDescribe map[*salesforce.SObjectDescribe]*changeCodec // describe snapshots of events
	byVersion  map[objectVersion]*changeCodec               // current describes of objects
	platform   map[string]*platformCodec                    // by event name and field list
}

// objectVersion identifies a version of an object's describe.
type objectVersion struct {
	object  string // lower case
	version int
}

func newRegistry() *registry {
	return &registry{
		byID:       map[string]*cdc.Schema{},
		byDescribe: map[*salesforce.SObjectDescribe]*changeCodec{},
		byVersion:  map[objectVersion]*changeCodec{},
		platform:   map[string]*platformCodec{},
	}
}

// lookup returns the schema with the given id.
func (r *registry) lookup(id string) (*cdc.Schema, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	s, ok := r.byID[id]
	return s, ok
}

// changeCodec is the change event schema of one describe, with where each
// describe field goes in it.
type changeCodec struct {
	schema *cdc.Schema
	// plan is schema compiled for encoding, or nil (then cdc encodes).
	plan *changePlan
	// fields maps describe field names (as the org spells them) to their
	// place in the schema; fields the schema does not carry are absent.
	fields map[string]bodyField
}

// bodyField is where one describe field goes in a change event.
type bodyField struct {
	top  string // top-level schema field
	comp string // component of the compound top, or "" for a scalar
	typ  string // lower-case describe type
	// path is the field's name in bitmaps: Phone, BillingAddress.City, or
	// the compound's own name.
	path string
	// compound marks the compound field itself (BillingAddress, Contact's
	// Name): its components carry its value, so its own value is dropped.
	compound bool
	// slot is the field's value slot in the plan (-1 for compounds and
	// without a plan).
	slot int
}

// newChangeCodec derives the change event schema of a describe.
func newChangeCodec(d *salesforce.SObjectDescribe) (*changeCodec, error) {
	s, err := cdc.ChangeEventSchema(d)
	if err != nil {
		return nil, newError(codes.Internal, errorCodeSubscriptionInternal, "derive the change event schema of %s: %v", d.Name, err)
	}
	compound := map[string]bool{}
	for _, f := range s.Fields() {
		if f.Compound {
			compound[f.Name] = true
		}
	}
	c := &changeCodec{schema: s, plan: newChangePlan(s), fields: make(map[string]bodyField, len(d.Fields))}
	for _, f := range d.Fields {
		path, ok := s.Path(f.Name)
		if !ok {
			continue
		}
		bf := bodyField{typ: strings.ToLower(f.Type), path: path, slot: -1}
		if top, comp, nested := strings.Cut(path, "."); nested {
			bf.top, bf.comp = top, comp
		} else {
			bf.top, bf.compound = path, compound[path]
		}
		if c.plan != nil && !bf.compound {
			slot, ok := c.plan.slots[path]
			if !ok {
				c.plan = nil // the layout and the Avro schema disagree: leave it to cdc
			}
			bf.slot = slot
		}
		c.fields[f.Name] = bf
	}
	return c, nil
}

// field returns where a describe field goes, matching the name exactly,
// then case-insensitively.
func (c *changeCodec) field(name string) (bodyField, bool) {
	if bf, ok := c.fields[name]; ok {
		return bf, true
	}
	for k, bf := range c.fields {
		if strings.EqualFold(k, name) {
			return bf, true
		}
	}
	return bodyField{}, false
}

// changeCodecFor returns the codec of an event's describe snapshot.
// Snapshots are immutable and shared by all events of one describe version,
// so the pointer is the cache key.
func (s *Server) changeCodecFor(d *salesforce.SObjectDescribe) (*changeCodec, error) {
	r := s.schemas
	r.mu.RLock()
	c, ok := r.byDescribe[d]
	r.mu.RUnlock()
	if ok {
		return c, nil
	}
	c, err := newChangeCodec(d)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.byDescribe[d]; ok {
		return prev, nil
	}
	if prev, ok := r.byID[c.schema.ID()]; ok {
		c.schema = prev // one Schema per id
	} else {
		r.byID[c.schema.ID()] = c.schema
	}
	r.byDescribe[d] = c
	return c, nil
}

// currentChangeCodec returns the codec of an object's current describe.
func (s *Server) currentChangeCodec(object string) (*changeCodec, error) {
	d, version, ok := s.cfg.Org.Describe(object)
	if !ok {
		return nil, newError(codes.NotFound, errorCodeTopicNotFound, "object %s not found", object)
	}
	key := objectVersion{strings.ToLower(object), version}
	r := s.schemas
	r.mu.RLock()
	c, ok := r.byVersion[key]
	r.mu.RUnlock()
	if ok {
		return c, nil
	}
	c, err := newChangeCodec(d)
	if err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.byID[c.schema.ID()]; ok {
		c.schema = prev
	} else {
		r.byID[c.schema.ID()] = c.schema
	}
	r.byVersion[key] = c
	return c, nil
}

// platformCodec is the schema of one platform event definition.
type platformCodec struct {
	schema *cdc.Schema
	// fields maps lower-case field names to their schema name and
	// lower-case type.
	fields map[string]platformField
}

type platformField struct {
	name string
	typ  string
}

// platformCodec returns the schema of platform event ev (Order__e) as
// Config.PlatformEvents currently defines it.
func (s *Server) platformCodec(ev string) (*platformCodec, error) {
	fields, _ := s.platformFields(ev)
	var key strings.Builder
	key.WriteString(ev)
	for _, f := range fields {
		key.WriteString("\x00" + f.Name + "\x01" + f.Type)
		if f.Calculated {
			key.WriteString("\x02")
		}
	}
	r := s.schemas
	r.mu.RLock()
	c, ok := r.platform[key.String()]
	r.mu.RUnlock()
	if ok {
		return c, nil
	}
	schema, err := cdc.PlatformEventSchema(ev, fields)
	if err != nil {
		return nil, newError(codes.Internal, errorCodeSubscriptionInternal, "derive the schema of platform event %s: %v", ev, err)
	}
	c = &platformCodec{schema: schema, fields: map[string]platformField{}}
	for _, f := range schema.Fields() {
		c.fields[strings.ToLower(f.Name)] = platformField{name: f.Name, typ: f.Type}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if prev, ok := r.byID[schema.ID()]; ok {
		c.schema = prev
	} else {
		r.byID[schema.ID()] = schema
	}
	r.platform[key.String()] = c
	return c, nil
}

// warmSchemas derives the current schema of every object and platform
// event, so GetSchema knows ids a client learnt elsewhere (for example
// from a REST eventSchema call).
func (s *Server) warmSchemas() {
	for _, o := range s.cfg.Org.Objects() {
		_, _ = s.currentChangeCodec(o)
	}
	if s.cfg.PlatformEvents != nil {
		for ev := range s.cfg.PlatformEvents() {
			_, _ = s.platformCodec(strings.TrimPrefix(ev, "/event/"))
		}
	}
}

// GetSchema returns the Avro JSON of a schema id. Every schema the server
// has used stays available, so events published before a describe changed
// stay decodable. Known ids are those of every schema the server has used
// and the current schema of every object and platform event.
func (s *Server) GetSchema(ctx context.Context, req *pubsubpb.SchemaRequest) (*pubsubpb.SchemaInfo, error) {
	rpcID := newRPCID()
	info, err := s.getSchema(ctx, req, rpcID)
	return info, toStatus(err, rpcID, unaryTrailer(ctx))
}

func (s *Server) getSchema(ctx context.Context, req *pubsubpb.SchemaRequest, rpcID string) (*pubsubpb.SchemaInfo, error) {
	if _, err := s.authenticate(ctx); err != nil {
		return nil, err
	}
	if err := s.fault(Call{Method: "GetSchema", Start: true}); err != nil {
		return nil, err
	}
	id := req.GetSchemaId()
	if id == "" {
		return nil, newError(codes.InvalidArgument, errorCodeSchemaEmpty, "the schema id is blank")
	}
	schema, ok := s.schemas.lookup(id)
	if !ok {
		s.warmSchemas()
		schema, ok = s.schemas.lookup(id)
	}
	if !ok {
		return nil, newError(codes.NotFound, errorCodeSchemaPermission, "schema %s not found", id)
	}
	return &pubsubpb.SchemaInfo{SchemaJson: schema.JSON(), SchemaId: schema.ID(), RpcId: rpcID}, nil
}
