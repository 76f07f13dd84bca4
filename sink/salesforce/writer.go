package salesforce

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/sfconnect/sfconnect/connectorlib"
	sfapi "github.com/sfconnect/sfconnect/salesforce"
)

// retryableRecordCodes are per-record statusCodes worth another try: a
// locked row, or Salesforce running out of something temporarily.
var retryableRecordCodes = map[string]bool{
	"UNABLE_TO_LOCK_ROW":                    true,
	"REQUEST_LIMIT_EXCEEDED":                true,
	"SERVER_UNAVAILABLE":                    true,
	"ALL_OR_NONE_OPERATION_ROLLED_BACK":     true,
	"PROCESSING_HALTED":                     true,
	"TXN_SECURITY_METERING_ERROR":           true,
	"PLATFORM_EVENT_PUBLISHING_UNAVAILABLE": true,
}

// goneCodes on a delete mean the record is already gone, which is what a
// delete wants (a retried batch deletes twice).
var goneCodes = map[string]bool{"ENTITY_IS_DELETED": true, "INVALID_CROSS_REFERENCE_KEY": true, "NOT_FOUND": true}

// opGroup is the operations of one object, operation and match field.
type opGroup struct {
	object, op, extField string
	ops                  []*writeOp
}

// writeOps writes a round's operations: Bulk API 2.0 for large groups,
// sObject Collections for the rest.
func (s *Sink) writeOps(ctx context.Context, b *batchState, ops []*writeOp) {
	groups := map[string]*opGroup{}
	var order []string
	for _, op := range ops {
		ext := ""
		if op.op == OpUpsert {
			ext = op.extField
		}
		k := op.object + "\x00" + op.op + "\x00" + ext
		g := groups[k]
		if g == nil {
			g = &opGroup{object: op.object, op: op.op, extField: ext}
			groups[k] = g
			order = append(order, k)
		}
		g.ops = append(g.ops, op)
	}
	type pending struct {
		call sfapi.CollectionCall
		ops  []*writeOp
	}
	var calls []pending
	for _, k := range order {
		g := groups[k]
		if s.cfg.BulkThreshold > 0 && len(g.ops) > s.cfg.BulkThreshold {
			s.bulk(ctx, b, g)
			continue
		}
		for start := 0; start < len(g.ops); start += sfapi.MaxCollectionRecords {
			chunk := g.ops[start:min(start+sfapi.MaxCollectionRecords, len(g.ops))]
			calls = append(calls, pending{call: collectionCall(g, chunk), ops: chunk})
		}
	}
	step := 1
	if s.cfg.Pack {
		step = sfapi.MaxCompositeCollections
	}
	for start := 0; start < len(calls); start += step {
		group := calls[start:min(start+step, len(calls))]
		n := 0
		for _, p := range group {
			n += p.call.N
		}
		if len(group) == 1 {
			var res []sfapi.SaveResult
			err := s.apiCall(ctx, apiCollections, n, func(ctx context.Context) error {
				var err error
				res, err = s.rest.Collection(ctx, group[0].call)
				return err
			})
			s.results(b, group[0].ops, res, err)
			continue
		}
		cc := make([]sfapi.CollectionCall, len(group))
		for i, p := range group {
			cc[i] = p.call
		}
		var res [][]sfapi.SaveResult
		var errs []error
		err := s.apiCall(ctx, apiComposite, n, func(ctx context.Context) error {
			var err error
			res, errs, err = s.rest.CompositeCollections(ctx, cc)
			return err
		})
		for i, p := range group {
			switch {
			case err != nil:
				s.results(b, p.ops, nil, err)
			default:
				s.results(b, p.ops, res[i], errs[i])
			}
		}
	}
}

// collectionCall builds the sObject Collections request of a chunk.
func collectionCall(g *opGroup, ops []*writeOp) sfapi.CollectionCall {
	switch g.op {
	case OpDelete:
		ids := make([]string, len(ops))
		for i, op := range ops {
			ids[i] = op.id
		}
		return sfapi.DeleteCall(ids)
	case OpUpsert:
		recs := make([]map[string]any, len(ops))
		for i, op := range ops {
			r := maps.Clone(op.fields)
			r[op.extField] = op.extID
			recs[i] = r
		}
		return sfapi.UpsertCall(g.object, g.extField, recs)
	}
	recs := make([]map[string]any, len(ops))
	for i, op := range ops {
		r := maps.Clone(op.fields)
		r["Id"] = op.id
		recs[i] = r
	}
	return sfapi.UpdateCall(g.object, recs)
}

// results applies one request's outcome to its operations: err fails them
// all; otherwise each SaveResult decides its own.
func (s *Sink) results(b *batchState, ops []*writeOp, res []sfapi.SaveResult, err error) {
	if err != nil {
		err = fmt.Errorf("write %d %s records: %w", len(ops), ops[0].object, err)
		for _, op := range ops {
			s.failOp(b, op, err)
		}
		return
	}
	for i, op := range ops {
		r := res[i]
		if r.Success {
			s.metrics.written.WithLabelValues(s.metrics.connector, op.object, strings.ToLower(op.op)).Inc()
			continue
		}
		if len(r.Errors) == 0 {
			s.failOp(b, op, connectorlib.Retryable(fmt.Errorf("%s %s: failed without an error", strings.ToLower(op.op), op.ref())))
			continue
		}
		e := r.Errors[0]
		if op.op == OpDelete && goneCodes[e.StatusCode] {
			continue
		}
		s.failOp(b, op, recordError(op, e))
	}
}

// recordError classifies a per-record Salesforce error; the statusCode
// becomes the dead-letter error code, the message its text.
func recordError(op *writeOp, e sfapi.RecordError) error {
	err := fmt.Errorf("salesforce refused %s %s: %w", strings.ToLower(op.op), op.ref(), e)
	if retryableRecordCodes[e.StatusCode] {
		return connectorlib.Retryable(err)
	}
	return connectorlib.PermanentCode(e.StatusCode, err)
}

// failOp fails every change an operation applies.
func (s *Sink) failOp(b *batchState, op *writeOp, err error) {
	for _, i := range op.indexes {
		s.fail(b, i, err)
	}
	if connectorlib.IsRetryable(err) {
		// The record's later rounds must wait for this one.
		c := &change{object: op.object, id: op.id, extField: op.extField, extID: op.extID}
		b.blocked = append(b.blocked, c.key())
		if op.id != "" && op.extID != "" {
			c.id = ""
			b.blocked = append(b.blocked, c.key())
		}
	}
}

// ref names the record of an operation in errors.
func (op *writeOp) ref() string {
	if op.extID != "" {
		return fmt.Sprintf("%s %s=%s", op.object, op.extField, op.extID)
	}
	return fmt.Sprintf("%s %s", op.object, op.id)
}

// bulk writes a large group with one Bulk API 2.0 ingest job and maps the
// job's successful, failed and unprocessed results back to the operations
// by their match column.
func (s *Sink) bulk(ctx context.Context, b *batchState, g *opGroup) {
	keyCol := "Id"
	if g.op == OpUpsert {
		keyCol = g.extField
	}
	fieldSet := map[string]bool{}
	for _, op := range g.ops {
		for f := range op.fields {
			fieldSet[f] = true
		}
	}
	cols := slices.Sorted(maps.Keys(fieldSet))
	header := append([]string{keyCol}, cols...)
	rows := make([][]string, len(g.ops))
	byKey := make(map[string]*writeOp, len(g.ops))
	for i, op := range g.ops {
		key := op.id
		if g.op == OpUpsert {
			key = op.extID
		}
		row := make([]string, len(header))
		row[0] = key
		for j, f := range cols {
			v, ok := op.fields[f]
			switch {
			case !ok:
				row[j+1] = "" // unchanged
			case v == nil:
				row[j+1] = sfapi.BulkNull
			default:
				row[j+1] = formatValue(v)
			}
		}
		rows[i] = row
		byKey[key] = op
	}
	job := sfapi.IngestJob{Object: g.object, Operation: strings.ToLower(g.op), ExternalIDField: g.extField}
	var res *sfapi.IngestResults
	err := s.apiCall(ctx, apiBulk, len(rows), func(ctx context.Context) error {
		var err error
		res, err = s.rest.BulkIngest(ctx, job, header, rows, s.cfg.BulkPoll)
		return err
	})
	if res != nil && res.Calls > 1 {
		s.countCall(apiBulk, 0, res.Calls-1) // apiCall counted the first
	}
	if err != nil {
		for _, op := range g.ops {
			s.failOp(b, op, fmt.Errorf("bulk %s %s: %w", job.Operation, g.object, err))
		}
		return
	}
	done := map[*writeOp]bool{}
	take := func(hdr []string, rows [][]string, fn func(op *writeOp, row map[string]string)) {
		at := slices.Index(hdr, keyCol)
		if at < 0 {
			return
		}
		for _, r := range rows {
			if at >= len(r) {
				continue
			}
			op := byKey[r[at]]
			if op == nil || done[op] {
				continue
			}
			row := map[string]string{}
			for i, h := range hdr {
				if i < len(r) {
					row[h] = r[i]
				}
			}
			done[op] = true
			fn(op, row)
		}
	}
	take(res.SuccessfulHeader, res.Successful, func(op *writeOp, _ map[string]string) {
		s.metrics.written.WithLabelValues(s.metrics.connector, op.object, strings.ToLower(op.op)).Inc()
	})
	take(res.FailedHeader, res.Failed, func(op *writeOp, row map[string]string) {
		code, msg, _ := strings.Cut(row["sf__Error"], ":")
		msg, _, _ = strings.Cut(msg, ":")
		if op.op == OpDelete && goneCodes[code] {
			return
		}
		s.failOp(b, op, recordError(op, sfapi.RecordError{StatusCode: code, Message: msg}))
	})
	take(res.UnprocessedHeader, res.Unprocessed, func(op *writeOp, _ map[string]string) {
		s.failOp(b, op, connectorlib.Retryable(fmt.Errorf("bulk job ended %s before processing %s", res.State, op.ref())))
	})
	for _, op := range g.ops {
		if !done[op] {
			s.failOp(b, op, connectorlib.Retryable(fmt.Errorf("bulk job (%s) did not report %s", res.State, op.ref())))
		}
	}
}
