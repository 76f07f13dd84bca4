package cdc

import (
	"errors"
	"fmt"
	"math"

	"github.com/hamba/avro/v2"
)

// The ChangeEventHeader fields headerFrom knows, for typed decoding.
const (
	hSkip = iota // a field headerFrom does not read: decoded and dropped
	hEntityName
	hChangeType
	hChangeOrigin
	hTransactionKey
	hCommitUser
	hRecordIDs
	hNulledFields
	hDiffFields
	hChangedFields
	hSequenceNumber
	hCommitTimestamp
	hCommitNumber
)

var headerKeys = map[string]int{
	"entityName": hEntityName, "changeType": hChangeType, "changeOrigin": hChangeOrigin,
	"transactionKey": hTransactionKey, "commitUser": hCommitUser, "recordIds": hRecordIDs,
	"nulledFields": hNulledFields, "diffFields": hDiffFields, "changedFields": hChangedFields,
	"sequenceNumber": hSequenceNumber, "commitTimestamp": hCommitTimestamp, "commitNumber": hCommitNumber,
}

// headerOp decodes one field of the header record straight into Header.
type headerOp struct {
	name    string
	field   int         // hSkip, hEntityName, ...
	schema  avro.Schema // dereferenced; for hSkip, what readValue reads
	kind    avro.Type
	symbols []string // enum
}

// compileHeader returns typed operations for header record t, or nil
// when a field headerFrom reads has a type other than the usual one
// (string or enum for names, array of strings for lists, int or long for
// numbers): such a header is decoded generically.
func compileHeader(t avro.Schema) []headerOp {
	rec, ok := deref(t).(*avro.RecordSchema)
	if !ok {
		return nil
	}
	ops := make([]headerOp, 0, len(rec.Fields()))
	for _, f := range rec.Fields() {
		ft := deref(f.Type())
		op := headerOp{name: f.Name(), field: headerKeys[f.Name()], schema: ft, kind: ft.Type()}
		switch op.field {
		case hSkip:
		case hEntityName, hChangeType, hChangeOrigin, hTransactionKey, hCommitUser:
			switch op.kind {
			case avro.Enum:
				op.symbols = ft.(*avro.EnumSchema).Symbols()
			case avro.String:
			default:
				return nil
			}
		case hRecordIDs, hNulledFields, hDiffFields, hChangedFields:
			a, ok := ft.(*avro.ArraySchema)
			if !ok || deref(a.Items()).Type() != avro.String {
				return nil
			}
		default: // numbers
			if op.kind != avro.Int && op.kind != avro.Long {
				return nil
			}
		}
		ops = append(ops, op)
	}
	return ops
}

// headerSlots receives the decoded ChangeEventHeader: typed, by the
// plan's operations, or else as values by name for headerFrom, without a
// map for the usual header (a header of more fields than the slots, from
// a foreign schema, goes to a map).
type headerSlots struct {
	plan []headerOp

	// Typed decoding.
	h   Header
	seq int64 // sequenceNumber before its range check

	// Generic decoding.
	names [16]string
	vals  [16]any
	n     int
	m     map[string]any
}

// header returns the decoded header, with headerFrom's checks.
func (h *headerSlots) header() (Header, error) {
	if h.plan == nil {
		return headerFrom(h.get)
	}
	if h.seq < math.MinInt32 || h.seq > math.MaxInt32 {
		return h.h, fmt.Errorf("sequenceNumber: %d out of range", h.seq)
	}
	h.h.SequenceNumber = int32(h.seq)
	return h.h, nil
}

// read decodes the header record t as readValue would, null fields left
// out.
func (h *headerSlots) read(r *avro.Reader, t avro.Schema, depth int) error {
	if depth > maxDepth {
		return errors.New("nesting too deep")
	}
	if h.plan != nil {
		return h.readTyped(r, depth)
	}
	rec, ok := t.(*avro.RecordSchema)
	if !ok || len(rec.Fields()) > len(h.names) {
		v, err := readValue(r, t, depth)
		if err != nil {
			return err
		}
		h.m, _ = v.(map[string]any)
		return nil
	}
	for _, f := range rec.Fields() {
		e, err := readValue(r, f.Type(), depth+1)
		if err != nil {
			return fmt.Errorf("%s: %w", f.Name(), err)
		}
		if e != nil {
			h.names[h.n], h.vals[h.n] = f.Name(), e
			h.n++
		}
	}
	return r.Error
}

// readTyped decodes the header with the plan: the values headerFrom would
// take from readValue's map, with the same errors, and missing lists
// empty.
func (h *headerSlots) readTyped(r *avro.Reader, depth int) error {
	h.h = Header{RecordIDs: []string{}, NulledFields: []string{}, DiffFields: []string{}, ChangedFields: []string{}}
	for i := range h.plan {
		op := &h.plan[i]
		if err := h.readOp(r, op, depth+1); err != nil {
			return fmt.Errorf("%s: %w", op.name, err)
		}
	}
	return r.Error
}

func (h *headerSlots) readOp(r *avro.Reader, op *headerOp, depth int) error {
	switch op.field {
	case hSkip:
		_, err := readValue(r, op.schema, depth)
		return err
	case hRecordIDs, hNulledFields, hDiffFields, hChangedFields:
		out := []string{}
		err := readBlocks(r, func() error {
			s := r.ReadString()
			if r.Error != nil {
				return fmt.Errorf("[%d]: %w", len(out), r.Error)
			}
			out = append(out, s)
			return nil
		})
		if err != nil {
			return err
		}
		switch op.field {
		case hRecordIDs:
			h.h.RecordIDs = out
		case hNulledFields:
			h.h.NulledFields = out
		case hDiffFields:
			h.h.DiffFields = out
		default:
			h.h.ChangedFields = out
		}
		return nil
	case hSequenceNumber, hCommitTimestamp, hCommitNumber:
		var n int64
		if op.kind == avro.Int {
			n = int64(r.ReadInt())
		} else {
			n = r.ReadLong()
		}
		if r.Error != nil {
			return r.Error
		}
		switch op.field {
		case hSequenceNumber:
			h.seq = n
		case hCommitTimestamp:
			h.h.CommitTimestamp = n
		default:
			h.h.CommitNumber = n
		}
		return nil
	}
	var s string
	if op.kind == avro.Enum {
		i := r.ReadInt()
		if r.Error == nil && (i < 0 || int(i) >= len(op.symbols)) {
			return fmt.Errorf("enum index %d out of range", i)
		}
		if r.Error == nil {
			s = op.symbols[i]
		}
	} else {
		s = r.ReadString()
	}
	if r.Error != nil {
		return r.Error
	}
	switch op.field {
	case hEntityName:
		h.h.EntityName = s
	case hChangeType:
		h.h.ChangeType = ChangeType(s)
	case hChangeOrigin:
		h.h.ChangeOrigin = s
	case hTransactionKey:
		h.h.TransactionKey = s
	default:
		h.h.CommitUser = s
	}
	return nil
}

func (h *headerSlots) get(key string) any {
	if h.m != nil {
		return h.m[key]
	}
	for i := range h.n {
		if h.names[i] == key {
			return h.vals[i]
		}
	}
	return nil
}
