package salesforce

import (
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"time"
)

// Conflict outcomes (the outcome label of the conflicts metric and the
// outcome field of conflict records).
const (
	// OutcomeWebAppLost: the whole change lost and was not applied.
	OutcomeWebAppLost = "webapp_lost"
	// OutcomeFieldsLost: field_merge applied part of the change; the
	// fields Salesforce had changed too kept Salesforce's value.
	OutcomeFieldsLost = "fields_lost"
	// OutcomeMerged: field_merge applied the whole change although
	// Salesforce had changed the record meanwhile (other fields).
	OutcomeMerged = "merged"
	// OutcomeWebAppWon: webapp_wins overwrote a newer Salesforce edit. Only
	// counted when the record was looked up anyway.
	OutcomeWebAppWon = "webapp_won"
)

// recordState is what the lookup query read of one Salesforce record.
type recordState struct {
	id             string
	lastModified   time.Time
	lastModifiedBy string
	values         map[string]any // every field the query selected
	// full reports whether values hold the changes' fields (false when the
	// lookup fell back to the system fields only).
	full bool
}

// resolution is the verdict on one change.
type resolution struct {
	apply   bool
	fields  map[string]any // what to write when apply (field_merge: a subset)
	lost    []string       // fields that kept Salesforce's value
	outcome string         // "" when there was no conflict
}

// resolve decides whether change c is written, given the record's state
// (nil: not in Salesforce, or not looked up) and the sink's own user id.
//
// A conflict needs a Salesforce edit the web app did not know about: the
// record was last modified by someone other than this sink's user (our own
// writes only ever apply earlier web-app changes, which the Kafka order
// puts before c) at a time later than c was made (salesforce_wins: later
// than c minus the window). Then last_writer_wins and salesforce_wins
// drop c, field_merge keeps the fields Salesforce did not change (three-way,
// with c's previous values), and webapp_wins writes c anyway.
func resolve(policy string, window time.Duration, self string, c *change, st *recordState) resolution {
	all := resolution{apply: true, fields: c.fields}
	if st == nil || st.lastModifiedBy == self {
		return all
	}
	newer := st.lastModified.After(c.changedAt)
	switch policy {
	case PolicyWebAppWins:
		if newer {
			all.outcome = OutcomeWebAppWon
		}
		return all
	case PolicySalesforceWins:
		if st.lastModified.After(c.changedAt.Add(-window)) {
			return resolution{outcome: OutcomeWebAppLost}
		}
		return all
	case PolicyFieldMerge:
		if !newer {
			return all
		}
		if c.op == OpDelete || !st.full {
			return resolution{outcome: OutcomeWebAppLost}
		}
		keep := map[string]any{}
		var lost []string
		for f, v := range c.fields {
			cur, known := st.values[f]
			switch {
			case known && sameValue(cur, v):
				// Already Salesforce's value: nothing to write or lose.
			case c.previous != nil && hasKey(c.previous, f) && known && sameValue(cur, c.previous[f]):
				keep[f] = v // Salesforce did not touch f since the web app read it
			default:
				lost = append(lost, f)
			}
		}
		slices.Sort(lost)
		switch {
		case len(lost) == 0:
			return resolution{apply: true, fields: keep, outcome: OutcomeMerged}
		case len(keep) == 0:
			return resolution{lost: lost, outcome: OutcomeWebAppLost}
		}
		return resolution{apply: true, fields: keep, lost: lost, outcome: OutcomeFieldsLost}
	}
	// last_writer_wins
	if newer {
		return resolution{outcome: OutcomeWebAppLost}
	}
	return all
}

func hasKey(m map[string]any, k string) bool { _, ok := m[k]; return ok }

// sameValue compares a value Salesforce returned (json.Number numbers)
// with a web-app value: numbers by value, everything else exactly.
func sameValue(sf, web any) bool {
	if sf == nil || web == nil {
		return sf == nil && web == nil
	}
	if a, ok := number(sf); ok {
		b, ok := number(web)
		return ok && (a == b || math.Abs(a-b) <= 1e-9*math.Max(math.Abs(a), math.Abs(b)))
	}
	switch x := sf.(type) {
	case string:
		y, ok := web.(string)
		return ok && x == y
	case bool:
		y, ok := web.(bool)
		return ok && x == y
	}
	return false
}

// number returns v as a float64 when it is a number.
func number(v any) (float64, bool) {
	switch x := v.(type) {
	case json.Number:
		f, err := x.Float64()
		return f, err == nil
	case float64:
		return x, true
	case float32:
		return float64(x), true
	case int64:
		return float64(x), true
	case int32:
		return float64(x), true
	case int:
		return float64(x), true
	}
	return 0, false
}

// formatValue renders a value as text (Bulk API CSV, SOQL literals).
func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case bool:
		return strconv.FormatBool(x)
	case json.Number:
		return x.String()
	case int64:
		return strconv.FormatInt(x, 10)
	case int32:
		return strconv.FormatInt(int64(x), 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	}
	b, _ := json.Marshal(v)
	return string(b)
}
