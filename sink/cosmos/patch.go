package cosmos

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// maxPatchOperations is Cosmos DB's limit on the operations of one patch
// request.
const maxPatchOperations = 10

// errPatchMissing reports that a patch found no document: the change is
// applied by the read-modify-write path instead, which creates it.
var errPatchMissing = errors.New("patch: no document")

// patchable reports whether the group g can be applied by one conditional
// patch, without reading the document first: under the patch strategy, a
// single UPDATE, versioned,
// whose partition key follows from the change, with no more operations
// than Cosmos DB allows. Everything else (and any UPDATE whose document
// the cache holds, which replace applies in one request too) goes through
// read-modify-replace with the ETag.
func (s *Sink) patchable(g []*change) bool {
	if len(g) != 1 {
		return false
	}
	c := g[0]
	switch {
	case c.op != opMerge, !c.versioned, len(c.diff) > 0:
		return false
	case s.cfg.WriteStrategy != StrategyPatch:
		// Only where the user chose patching: the local stand-in compiles
		// each patch condition as a query (about 0.3 s each), and under
		// overwrite the document cache already makes an UPDATE one
		// request.
		return false
	case s.cfg.DeleteMode == DeleteSoft && s.cfg.TombstoneTTL > 0:
		// Reviving a tombstone must remove its ttl, which a patch cannot
		// do conditionally.
		return false
	}
	if _, ok := s.knownPK(c); !ok {
		return false
	}
	return len(patchFields(c))+1 <= maxPatchOperations
}

// patchFields are the fields an UPDATE sets: its values, and null for its
// nulled fields.
func patchFields(c *change) map[string]any {
	out := make(map[string]any, len(c.fields)+len(c.nulled))
	for k, v := range c.fields {
		out[k] = v
	}
	for _, k := range c.nulled {
		if !reservedFields[k] {
			out[k] = nil
		}
	}
	return out
}

// patchCondition is true on a document older than v (or without a
// version), in Cosmos DB SQL. Property names are lowercase: the stand-in
// lowercases conditions before evaluating them.
func patchCondition(v version) string {
	return fmt.Sprintf("FROM c WHERE NOT IS_DEFINED(c.sfconnect) OR c.sfconnect.versioned = false OR c.sfconnect.ts < %d"+
		" OR (c.sfconnect.ts = %d AND (c.sfconnect.cn < %d OR (c.sfconnect.cn = %d AND c.sfconnect.seq < %d)))",
		v.TS, v.TS, v.CN, v.CN, v.Seq)
}

// jsonPointer escapes a property name as one JSON Pointer segment.
func jsonPointer(name string) string {
	return "/" + strings.NewReplacer("~", "~0", "/", "~1").Replace(name)
}

// patch applies an UPDATE with one conditional patch. The condition is the
// version guard, evaluated by Cosmos DB: a 412 means the document is as new
// or newer, and the change is stale.
func (s *Sink) patch(ctx context.Context, c *change) (outcome, error) {
	pk, _ := s.knownPK(c)
	key, err := pkOf(pk)
	if err != nil {
		return 0, err
	}
	var ops azcosmos.PatchOperations
	for k, v := range patchFields(c) {
		ops.AppendSet(jsonPointer(k), v)
	}
	ops.AppendSet("/"+metaField, meta{version: c.ver, Versioned: true, Source: c.source})
	ops.SetCondition(patchCondition(c.ver))
	var resp azcosmos.ItemResponse
	err = s.call(ctx, func(ctx context.Context) error {
		resp, err = s.container.PatchItem(ctx, key, c.docID, ops, nil)
		return err
	})
	switch statusOf(err) {
	case http.StatusPreconditionFailed:
		return stale, nil
	case http.StatusNotFound:
		return 0, errPatchMissing
	}
	if err != nil {
		return 0, fmt.Errorf("patch document %s: %w", c.docID, err)
	}
	s.metrics.Documents.WithLabelValues("patch").Inc()
	if st, derr := s.stored(resp.Value, string(resp.ETag)); derr == nil && len(resp.Value) > 0 {
		s.docs.put(c.docID, cachedDoc{doc: st.stored, etag: st.etag, pk: st.storedPK})
	}
	return applied, nil
}
