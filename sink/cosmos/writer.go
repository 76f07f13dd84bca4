package cosmos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// maxConflictRounds bounds how often one group is re-read and re-applied
// after another writer changed its document between the read and the
// write. Two writers alternate at worst; running out means a writer that
// keeps changing the document, and the group goes back to the runtime.
const maxConflictRounds = 16

// errConflict reports that the document changed since it was read (412),
// appeared (409 on create) or disappeared (404 on replace or delete).
var errConflict = errors.New("document changed since it was read")

// writeGroup applies the changes of one document, in order, and returns the
// errors of those that failed, by batch index.
//
// The document is read once, every change is applied to it in memory (each
// checked against the version it holds) and the result is written once,
// conditional on the ETag read. A conflict means another writer (a second
// consumer during a rebalance, a replay) got there first: the group is
// re-read and re-applied, and the version guard turns whatever that writer
// already applied into no-ops.
func (s *Sink) writeGroup(ctx context.Context, g []*change) map[int]error {
	mustRead := false
	if _, cached := s.docs.get(g[0].docID); !cached && s.patchable(g) {
		o, err := s.patch(ctx, g[0])
		switch {
		case err == nil:
			s.metrics.Changes.WithLabelValues(map[outcome]string{applied: "applied", stale: "stale"}[o]).Inc()
			return nil
		case errors.Is(err, errPatchMissing):
			mustRead = true // not there: create it the long way
		default:
			return failAll(g, nil, classify(err))
		}
	}
	for round := 1; ; round++ {
		st, err := s.load(ctx, g[0], mustRead)
		if err != nil {
			return failAll(g, nil, classify(err))
		}
		rejected := map[int]error{}
		counts := map[outcome]int{}
		for _, c := range g {
			o, err := s.apply(st, c)
			if err != nil {
				rejected[c.idx] = err
				continue
			}
			counts[o]++
		}
		if st.guessed && st.doc == nil {
			// Absence was assumed, and the group ends without a document:
			// whatever is stored must be seen to be deleted.
			mustRead = true
			continue
		}
		if st.changed {
			if s.beforeStore != nil {
				s.beforeStore(g[0].docID)
			}
			err = s.store(ctx, st, g[0])
			if err != nil {
				s.docs.forget(g[0].docID)
			}
		}
		switch {
		case err == nil:
			s.metrics.Changes.WithLabelValues("applied").Add(float64(counts[applied]))
			s.metrics.Changes.WithLabelValues("stale").Add(float64(counts[stale]))
			s.metrics.Changes.WithLabelValues("exists").Add(float64(counts[exists]))
			s.metrics.Changes.WithLabelValues("rejected").Add(float64(len(rejected)))
			return rejected
		case errors.Is(err, errConflict) && st.guessed:
			mustRead = true // the document exists after all: read it
			continue
		case errors.Is(err, errConflict) && st.cached:
			// Changed since this process wrote it: read what is there.
			mustRead = true
			s.metrics.Retries.WithLabelValues("precondition").Inc()
			continue
		case errors.Is(err, errConflict) && s.cfg.WriteStrategy == StrategyOverwriteIfNotModified:
			// The strategy's promise: never overwrite what another writer
			// changed since the read. The changes are skipped.
			s.metrics.Changes.WithLabelValues("conflict").Add(float64(len(g) - len(rejected)))
			s.metrics.Changes.WithLabelValues("rejected").Add(float64(len(rejected)))
			return rejected
		case errors.Is(err, errConflict) && round < maxConflictRounds:
			mustRead = true
			s.metrics.Retries.WithLabelValues("precondition").Inc()
			s.pks.forget(g[0].docID)
			continue
		}
		return failAll(g, rejected, classify(err))
	}
}

// failAll fails every change of g not already rejected with err.
func failAll(g []*change, rejected map[int]error, err error) map[int]error {
	out := make(map[int]error, len(g))
	for _, c := range g {
		if e, ok := rejected[c.idx]; ok {
			out[c.idx] = e
		} else {
			out[c.idx] = err
		}
	}
	return out
}

// pkOf converts a partition key value to the SDK's form.
func pkOf(v any) (azcosmos.PartitionKey, error) {
	switch x := v.(type) {
	case string:
		return azcosmos.NewPartitionKeyString(x), nil
	case bool:
		return azcosmos.NewPartitionKeyBool(x), nil
	case nil:
		return azcosmos.NullPartitionKey, nil
	case json.Number:
		f, err := x.Float64()
		if err != nil {
			return azcosmos.PartitionKey{}, err
		}
		return azcosmos.NewPartitionKeyNumber(f), nil
	case float64:
		return azcosmos.NewPartitionKeyNumber(x), nil
	case int64:
		return azcosmos.NewPartitionKeyNumber(float64(x)), nil
	}
	return azcosmos.PartitionKey{}, fmt.Errorf("partition key value of type %T is not a string, number, boolean or null", v)
}

// knownPK returns the partition key value of c's document when it follows
// from the change alone: the id, or the sObject.
func (s *Sink) knownPK(c *change) (any, bool) {
	switch {
	case s.pkProp == "id":
		return c.docID, true
	case s.pkProp == "sobject" && c.entity != "":
		return c.entity, true
	}
	return nil, false
}

// load reads c's document. When the partition key is a field of the
// record, its current value is not in an UPDATE or a DELETE: it comes from
// a cache of what this process last wrote, or else from a cross-partition
// query by id (one partition's documents have unique ids, but the same id
// may exist in two partitions after a crash during a move: the newest
// wins, the others are deleted when the document is next written).
func (s *Sink) load(ctx context.Context, c *change, mustRead bool) (*docState, error) {
	if !mustRead {
		if d, ok := s.docs.get(c.docID); ok {
			return &docState{stored: d.doc, etag: d.etag, storedPK: d.pk, doc: d.doc, cached: true}, nil
		}
		if _, known := s.knownPK(c); known && c.op == opReplace && s.cfg.WriteStrategy != StrategyDelete {
			// A CREATE of a document this process has not seen is most
			// likely new: try creating it, which fails with 409 (and a
			// read follows) when it is not.
			return &docState{guessed: true}, nil
		}
	}
	pk, ok := s.knownPK(c)
	if !ok {
		pk, ok = s.pks.get(c.docID)
	}
	if ok {
		st, err := s.read(ctx, c.docID, pk)
		if err != nil || st.stored != nil || s.pkProp == "id" || s.pkProp == "sobject" {
			return st, err
		}
		// Not where the cache said: moved by another process; look it up.
	}
	return s.query(ctx, c.docID)
}

// read point-reads one document.
func (s *Sink) read(ctx context.Context, id string, pk any) (*docState, error) {
	key, err := pkOf(pk)
	if err != nil {
		return nil, connectorlib.PermanentCode(codeInvalid, err)
	}
	var resp azcosmos.ItemResponse
	err = s.call(ctx, func(ctx context.Context) error {
		var err error
		resp, err = s.container.ReadItem(ctx, key, id, nil)
		return err
	})
	if statusOf(err) == http.StatusNotFound {
		// The stock cosmosdb-server answers 500 here; test/cosmos/patch.js
		// makes it answer 404 as Cosmos DB does.
		return &docState{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read document %s: %w", id, err)
	}
	return s.stored(resp.Value, string(resp.ETag))
}

// query finds a document by id across partitions.
func (s *Sink) query(ctx context.Context, id string) (*docState, error) {
	var items [][]byte
	err := s.call(ctx, func(ctx context.Context) error {
		items = items[:0]
		pager := s.container.NewQueryItemsPager("SELECT * FROM c WHERE c.id = @id", azcosmos.NewPartitionKey(),
			&azcosmos.QueryOptions{QueryParameters: []azcosmos.QueryParameter{{Name: "@id", Value: id}}})
		for pager.More() {
			page, err := pager.NextPage(ctx)
			if err != nil {
				return err
			}
			items = append(items, page.Items...)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("query document %s: %w", id, err)
	}
	var best *docState
	var bestMeta meta
	for _, it := range items {
		st, err := s.stored(it, "")
		if err != nil {
			return nil, err
		}
		m, _ := readMeta(st.stored)
		if best == nil || bestMeta.less(m.version) {
			best, bestMeta = st, m
		}
	}
	if best == nil {
		return &docState{}, nil
	}
	s.pks.put(id, best.storedPK)
	return best, nil
}

// stored decodes a stored document.
func (s *Sink) stored(body []byte, etag string) (*docState, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("decode stored document: %w", err)
	}
	if etag == "" {
		etag, _ = doc["_etag"].(string)
	}
	for _, f := range systemFields {
		delete(doc, f)
	}
	return &docState{stored: doc, etag: etag, storedPK: s.pkValue(doc), doc: doc}, nil
}

// store writes st.doc in place of st.stored, conditional on the ETag read.
func (s *Sink) store(ctx context.Context, st *docState, c *change) error {
	id := c.docID
	var oldKey azcosmos.PartitionKey
	if st.stored != nil {
		k, err := pkOf(st.storedPK)
		if err != nil {
			return connectorlib.PermanentCode(codeInvalid, err)
		}
		oldKey = k
	}
	ifMatch := &azcosmos.ItemOptions{IfMatchEtag: (*azcore.ETag)(&st.etag)}
	if st.doc == nil {
		if st.stored == nil {
			return nil
		}
		err := s.call(ctx, func(ctx context.Context) error {
			_, err := s.container.DeleteItem(ctx, oldKey, id, ifMatch)
			return err
		})
		if err := conflict(err); err != nil {
			return err
		}
		s.metrics.Documents.WithLabelValues("delete").Inc()
		s.pks.forget(id)
		s.docs.forget(id)
		return nil
	}
	body, err := json.Marshal(st.doc)
	if err != nil {
		return connectorlib.PermanentCode(codeInvalid, fmt.Errorf("encode document %s: %w", id, err))
	}
	newPK := s.pkValue(st.doc)
	key, err := pkOf(newPK)
	if err != nil {
		return connectorlib.PermanentCode(codeInvalid, err)
	}
	opName := "replace"
	if m, _ := readMeta(st.doc); m.Deleted {
		opName = "tombstone"
	}
	var etag azcore.ETag
	switch {
	case st.stored == nil:
		err = s.call(ctx, func(ctx context.Context) error {
			resp, err := s.container.CreateItem(ctx, key, body, nil)
			etag = resp.ETag
			return err
		})
		if opName == "replace" {
			opName = "create"
		}
	case pkEqual(st.storedPK, newPK):
		err = s.call(ctx, func(ctx context.Context) error {
			resp, err := s.container.ReplaceItem(ctx, key, id, body, ifMatch)
			etag = resp.ETag
			return err
		})
	default:
		// The partition key field changed: the document moves. Create the
		// new one first, so that a crash in between leaves a duplicate
		// (resolved by version on the next read) rather than a loss.
		err = s.call(ctx, func(ctx context.Context) error {
			resp, err := s.container.CreateItem(ctx, key, body, nil)
			etag = resp.ETag
			return err
		})
		if err == nil {
			err = s.call(ctx, func(ctx context.Context) error {
				_, err := s.container.DeleteItem(ctx, oldKey, id, ifMatch)
				return err
			})
			if statusOf(err) == http.StatusNotFound || statusOf(err) == http.StatusPreconditionFailed {
				err = nil // the old copy is gone or superseded either way
			}
		}
		opName = "move"
	}
	if err := conflict(err); err != nil {
		return err
	}
	s.metrics.Documents.WithLabelValues(opName).Inc()
	if s.pkProp != "id" && s.pkProp != "sobject" {
		s.pks.put(id, newPK)
	}
	if etag != "" {
		s.docs.put(id, cachedDoc{doc: st.doc, etag: string(etag), pk: newPK})
	} else {
		s.docs.forget(id)
	}
	return nil
}

// conflict maps the statuses that mean "someone else changed the document
// since it was read" to errConflict.
func conflict(err error) error {
	switch statusOf(err) {
	case http.StatusPreconditionFailed, http.StatusConflict, http.StatusNotFound:
		return fmt.Errorf("%w: %w", errConflict, err)
	}
	return err
}

// pkEqual compares partition key values as stored (numbers by value).
func pkEqual(a, b any) bool {
	an, aok := a.(json.Number)
	bn, bok := b.(json.Number)
	if aok || bok {
		var af, bf float64
		var err1, err2 error
		if aok {
			af, err1 = an.Float64()
		} else {
			af, err1 = toFloat(a)
		}
		if bok {
			bf, err2 = bn.Float64()
		} else {
			bf, err2 = toFloat(b)
		}
		return err1 == nil && err2 == nil && af == bf
	}
	return a == b
}

func toFloat(v any) (float64, error) {
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	}
	return 0, fmt.Errorf("not a number: %T", v)
}
