package salesforce

import "maps"

// segment is a run of changes to one record that can be written as one
// record operation.
type segment struct {
	key     string
	changes []*change
}

// rounds groups a batch's changes (in offset order) by record and splits
// each record's changes into segments: a change that follows a DELETE
// starts a new segment, because the delete must reach Salesforce before
// the record is written again. Round r holds every record's r-th segment;
// rounds are written one after the other, so per-record order holds, while
// the records of one round are written together. Almost every batch has
// one round.
func rounds(changes []*change) [][]*segment {
	type rec struct{ segs []*segment }
	byKey := map[string]*rec{}
	var order []string
	for _, c := range changes {
		k := c.key()
		r := byKey[k]
		if r == nil {
			r = &rec{}
			byKey[k] = r
			order = append(order, k)
		}
		n := len(r.segs)
		if n == 0 || (lastOp(r.segs[n-1]) == OpDelete && c.op != OpDelete) {
			r.segs = append(r.segs, &segment{key: k})
			n++
		}
		r.segs[n-1].changes = append(r.segs[n-1].changes, c)
	}
	var out [][]*segment
	for _, k := range order {
		for i, s := range byKey[k].segs {
			if i == len(out) {
				out = append(out, nil)
			}
			out[i] = append(out[i], s)
		}
	}
	return out
}

func lastOp(s *segment) string { return s.changes[len(s.changes)-1].op }

// writeOp is one record operation: the coalesced winning changes of one
// segment.
type writeOp struct {
	indexes  []int // batch indexes of the changes it applies
	object   string
	op       string // OpUpsert, OpUpdate or OpDelete
	extField string
	extID    string
	id       string
	fields   map[string]any
}

// fold coalesces changes to one record, in order, into one operation:
// later values win, a DELETE at the end makes it a delete, an UPSERT
// anywhere makes it an upsert (the record may not exist yet) when the
// record is matched by external id.
func fold(changes []*change, fields []map[string]any) *writeOp {
	w := &writeOp{fields: map[string]any{}}
	upsert := false
	for i, c := range changes {
		w.indexes = append(w.indexes, c.idx)
		w.object = c.object
		if w.extID == "" && c.extID != "" {
			w.extField, w.extID = c.extField, c.extID
		}
		if w.id == "" && c.id != "" {
			w.id = c.id
		}
		if c.op == OpUpsert {
			upsert = true
		}
		maps.Copy(w.fields, fields[i])
	}
	switch {
	case changes[len(changes)-1].op == OpDelete:
		w.op, w.fields = OpDelete, nil
	case upsert && w.extID != "":
		w.op = OpUpsert
	default:
		w.op = OpUpdate
	}
	return w
}
