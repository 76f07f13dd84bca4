package source

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/sfconnect/sfconnect/salesforce"
)

// snapshotBulkPage is maxRecords of each Bulk query results request: ten
// thousand records of a wide object stay within a few megabytes.
const snapshotBulkPage = 10000

// snapshotBulk runs the snapshot query of d as a Bulk API 2.0 query job
// and hands its records to page, snapshotPageSize at a time, typed as the
// REST path types them (see bulkRecord).
func (s *Source) snapshotBulk(ctx context.Context, d *salesforce.SObjectDescribe, soql string, page func([]map[string]any, bool) error) error {
	types := map[string]string{}
	for _, f := range d.Fields {
		types[f.Name] = strings.ToLower(f.Type)
	}
	var pending []map[string]any
	err := s.rest.BulkQuery(ctx, soql, salesforce.BulkQueryOptions{PageSize: snapshotBulkPage}, func(header []string, rows [][]string) error {
		for _, row := range rows {
			rec, err := bulkRecord(header, row, types)
			if err != nil {
				return err
			}
			pending = append(pending, rec)
			if len(pending) == snapshotPageSize {
				if err := page(pending, false); err != nil {
					return err
				}
				pending = nil
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("snapshot %s by bulk query: %w", d.Name, err)
	}
	return page(pending, true)
}

// bulkRecord turns one Bulk query CSV row into a record shaped like a REST
// query record: empty is null, numbers are json.Number, booleans bool,
// everything else (dates and datetimes included) a string, which
// restLayout then converts exactly as it converts REST values.
func bulkRecord(header, row []string, types map[string]string) (map[string]any, error) {
	if len(row) != len(header) {
		return nil, fmt.Errorf("bulk query row has %d values for %d columns", len(row), len(header))
	}
	rec := make(map[string]any, len(header))
	for i, name := range header {
		v := row[i]
		if v == "" {
			rec[name] = nil
			continue
		}
		switch types[name] {
		case "int", "long", "double", "currency", "percent":
			if !json.Valid([]byte(v)) {
				return nil, fmt.Errorf("bulk query value of %s is not a number: %q", name, v)
			}
			rec[name] = json.Number(v)
		case "boolean":
			rec[name] = v == "true"
		default:
			rec[name] = v
		}
	}
	return rec, nil
}
