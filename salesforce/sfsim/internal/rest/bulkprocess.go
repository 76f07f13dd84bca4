package rest

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/salesforce"
	"github.com/sfconnect/sfconnect/salesforce/sfsim/internal/org"
)

// nullValue in a CSV cell sets the field to null; an empty cell leaves it
// unchanged (insert: unset).
const nullValue = "#N/A"

// process runs an UploadComplete job in the background: InProgress, then
// chunks of 200 rows, each in its own transaction, then JobComplete; or
// Failed when the CSV is malformed. Abort, delete and Close stop it between
// chunks.
func (h *Handler) process(j *job) {
	defer h.wg.Done()
	start := time.Now()
	s := h.jobs
	s.mu.Lock()
	if j.state != stateUploadComplete || j.deleted {
		s.mu.Unlock()
		return
	}
	j.state, j.modified = stateInProgress, h.now()
	data, delim, lineEnding := j.data, delimiters[j.delimiter], j.lineEnding
	s.mu.Unlock()

	finish := func(state, msg string) {
		s.mu.Lock()
		defer s.mu.Unlock()
		if j.state == stateInProgress {
			j.state, j.errorMessage = state, msg
		}
		j.modified = h.now()
		j.processingMS = time.Since(start).Milliseconds()
	}

	header, rows, msg := parseCSV(data, delim, lineEnding)
	var cols []string
	if msg == "" {
		cols, msg = h.bulkColumns(j, header)
	}
	if msg != "" {
		s.mu.Lock()
		j.header, j.unprocessedRaw = header, true
		s.mu.Unlock()
		finish(stateFailed, msg)
		return
	}
	s.mu.Lock()
	j.header = header
	s.mu.Unlock()
	dups := duplicateKeys(j, cols, rows)
	for off := 0; off < len(rows); off += bulkChunk {
		s.mu.Lock()
		stop := j.state != stateInProgress || j.deleted || h.ctx.Err() != nil
		if stop {
			j.unprocessed = append(j.unprocessed, rows[off:]...)
		}
		s.mu.Unlock()
		if stop {
			if h.ctx.Err() != nil {
				finish(stateFailed, msgStopped)
			}
			return
		}
		chunk := rows[off:min(off+bulkChunk, len(rows))]
		succ, fail := h.processChunk(j, cols, chunk, dups)
		s.mu.Lock()
		j.success = append(j.success, succ...)
		j.failures = append(j.failures, fail...)
		j.processed += len(chunk)
		j.failed += len(fail)
		s.mu.Unlock()
	}
	finish(stateJobComplete, "")
}

// bulkColumns maps the CSV header to canonical field names, or explains
// why the job fails. [3P wording: "InvalidBatch : Field name not found"]
func (h *Handler) bulkColumns(j *job, header []string) ([]string, string) {
	d, _, ok := h.org.Describe(j.object)
	if !ok {
		return nil, fmt.Sprintf("InvalidBatch : sObject type '%s' is not supported.", j.object)
	}
	cols := make([]string, len(header))
	seen := map[string]bool{}
	for i, name := range header {
		fl, ok := d.Field(strings.TrimSpace(name))
		if !ok {
			return nil, "InvalidBatch : Field name not found : " + name
		}
		if seen[fl.Name] {
			return nil, "InvalidBatch : Duplicate field name : " + name
		}
		seen[fl.Name] = true
		cols[i] = fl.Name
	}
	return cols, ""
}

// duplicateKeys returns the external id values of an upsert job that occur
// on more than one row (lower-cased, as matching is case-insensitive).
func duplicateKeys(j *job, cols []string, rows [][]string) map[string]bool {
	if j.operation != "upsert" || j.extField == "Id" {
		return nil
	}
	col := indexOf(cols, j.extField)
	if col < 0 {
		return nil
	}
	count := map[string]int{}
	for _, r := range rows {
		if v := strings.ToLower(r[col]); v != "" && v != strings.ToLower(nullValue) {
			count[v]++
		}
	}
	dups := map[string]bool{}
	for v, n := range count {
		if n > 1 {
			dups[v] = true
		}
	}
	return dups
}

func indexOf(list []string, s string) int {
	for i, x := range list {
		if x == s {
			return i
		}
	}
	return -1
}

// processChunk applies up to 200 rows in one transaction and returns the
// result rows: success (sf__Id, sf__Created, values...) and failed
// (sf__Id, sf__Error, values...).
func (h *Handler) processChunk(j *job, cols []string, rows [][]string, dups map[string]bool) (success, failed [][]string) {
	tx := h.org.Begin(j.origin)
	committed := false
	defer func() {
		if !committed {
			tx.Rollback()
		}
	}()
	for _, row := range rows {
		id, created, err := bulkRow(tx, j, cols, row, dups)
		if err != nil {
			failed = append(failed, append([]string{id, bulkError(err)}, row...))
			continue
		}
		success = append(success, append([]string{id, fmt.Sprint(created)}, row...))
	}
	tx.Commit()
	committed = true
	return success, failed
}

// bulkRow applies one CSV row with the job's operation.
func bulkRow(tx *org.Tx, j *job, cols []string, row []string, dups map[string]bool) (id string, created bool, err *org.Error) {
	fields := map[string]any{}
	for i, col := range cols {
		switch v := row[i]; v {
		case "":
		case nullValue:
			fields[col] = nil
		default:
			fields[col] = v
		}
	}
	rowID, _ := fields["Id"].(string)
	delete(fields, "Id")
	d, derr := tx.Describe(j.object)
	if derr != nil {
		return "", false, derr
	}
	switch j.operation {
	case "insert":
		if rowID != "" {
			return "", false, &org.Error{Code: codeInvalidField, Message: "cannot specify Id in an insert call", Fields: []string{}}
		}
		id, err = tx.Create(j.object, fields)
		return id, err == nil, err
	case "update", "delete", "hardDelete":
		if rowID == "" {
			return "", false, &org.Error{Code: codeMissingArgument, Message: "Id not specified in an " + j.operation + " call", Fields: []string{}}
		}
		if merr := malformedID(d, rowID); merr != nil {
			return rowID, false, merr
		}
		nid, _ := org.NormalizeID(rowID)
		if j.operation == "update" {
			return nid, false, tx.Update(j.object, nid, fields)
		}
		err = tx.Delete(j.object, nid)
		if err != nil && err.Code == org.CodeNotFound {
			err = &org.Error{Code: org.CodeInvalidCrossReference, Message: "invalid cross reference id", Fields: []string{}}
		}
		return nid, false, err
	}
	return bulkUpsert(tx, j, d, fields, rowID, dups)
}

func bulkUpsert(tx *org.Tx, j *job, d *salesforce.SObjectDescribe, fields map[string]any, rowID string, dups map[string]bool) (string, bool, *org.Error) {
	if j.extField == "Id" {
		if rowID == "" {
			id, err := tx.Create(j.object, fields)
			return id, err == nil, err
		}
		if merr := malformedID(d, rowID); merr != nil {
			return rowID, false, merr
		}
		nid, _ := org.NormalizeID(rowID)
		return nid, false, tx.Update(j.object, nid, fields)
	}
	value, _ := fields[j.extField].(string)
	delete(fields, j.extField)
	if value == "" {
		return "", false, &org.Error{Code: codeMissingArgument, Message: j.extField + " not specified", Fields: []string{}}
	}
	if rowID != "" {
		return "", false, &org.Error{Code: codeInvalidField, Message: "Id is not allowed in a record upserted by external ID", Fields: []string{"Id"}}
	}
	if dups[strings.ToLower(value)] {
		return "", false, &org.Error{Code: codeDuplicateExternalID, Message: "Duplicate external id specified: " + value, Fields: []string{j.extField}}
	}
	ids, err := tx.FindByField(j.object, j.extField, value)
	if err != nil {
		return "", false, err
	}
	if len(ids) > 1 {
		return "", false, &org.Error{Code: codeDuplicateExternalID, Fields: []string{j.extField},
			Message: fmt.Sprintf("%s: more than one record found for external id field: [%s]", j.extField, strings.Join(ids, ", "))}
	}
	id, created, err := tx.Upsert(j.object, j.extField, value, fields)
	if err != nil && len(ids) == 1 {
		id = ids[0]
	}
	return id, created, err
}

// parseCSV parses a job's upload (RFC 4180 with the job's delimiter). It
// returns Salesforce-style job error messages for malformed data. [3P
// wording: the LineEnding message] A blank line is a record with one empty
// value, which matters for single-column files (jsforce writes a record
// without a value that way); in wider files it is skipped.
func parseCSV(data []byte, delim rune, lineEnding string) (header []string, rows [][]string, msg string) {
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf"))
	if len(bytes.TrimSpace(data)) == 0 {
		return nil, nil, "InvalidBatch : Empty CSV file"
	}
	if !lineEndingsMatch(data, lineEnding == "CRLF") {
		return nil, nil, "ClientInputError : LineEnding is invalid on user data. Current LineEnding setting is " + lineEnding
	}
	records, err := splitCSV(string(data), delim)
	if err != "" {
		return nil, nil, "InvalidBatch : Failed to parse CSV: " + err
	}
	header = records[0]
	for i, rec := range records[1:] {
		if len(rec) != len(header) {
			if len(rec) == 1 && rec[0] == "" {
				continue // blank line
			}
			return header, nil, fmt.Sprintf("InvalidBatch : Failed to parse CSV: row %d has %d fields, the header has %d", i+2, len(rec), len(header))
		}
		rows = append(rows, rec)
	}
	return header, rows, ""
}

// splitCSV splits CSV text into records. Quoted values may hold the
// delimiter, line breaks and doubled quotes; a quote inside an unquoted
// value, or text after a closing quote, is an error. A final line break
// does not start a record.
func splitCSV(s string, delim rune) ([][]string, string) {
	var (
		records [][]string
		rec     []string
		val     strings.Builder
		line    = 1
	)
	i := 0
	endValue := func() { rec = append(rec, val.String()); val.Reset() }
	for {
		// At the start of a value.
		if i < len(s) && s[i] == '"' {
			start := line
			i++
			for {
				if i >= len(s) {
					return nil, fmt.Sprintf("row %d: unterminated quoted value", start)
				}
				c := s[i]
				if c == '"' {
					if i+1 < len(s) && s[i+1] == '"' {
						val.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				if c == '\n' {
					line++
				}
				val.WriteByte(c)
				i++
			}
			if i < len(s) && !strings.HasPrefix(s[i:], string(delim)) && s[i] != '\n' && !strings.HasPrefix(s[i:], "\r\n") {
				return nil, fmt.Sprintf("row %d: unexpected text after a closing quote", line)
			}
		} else {
			for i < len(s) && s[i] != '\n' && !strings.HasPrefix(s[i:], "\r\n") && !strings.HasPrefix(s[i:], string(delim)) {
				if s[i] == '"' {
					return nil, fmt.Sprintf("row %d: a quote in an unquoted value", line)
				}
				val.WriteByte(s[i])
				i++
			}
		}
		endValue()
		switch {
		case i >= len(s):
			records = append(records, rec)
			return records, ""
		case strings.HasPrefix(s[i:], string(delim)):
			i += len(string(delim))
		default: // line break
			if s[i] == '\r' {
				i++
			}
			i++
			line++
			records = append(records, rec)
			rec = nil
			if i >= len(s) {
				return records, ""
			}
		}
	}
}

// lineEndingsMatch reports whether every record separator outside quotes
// is \r\n (crlf) or a bare \n (not crlf).
func lineEndingsMatch(data []byte, crlf bool) bool {
	quoted := false
	for i, b := range data {
		switch {
		case b == '"':
			quoted = !quoted
		case b == '\n' && !quoted:
			if (i > 0 && data[i-1] == '\r') != crlf {
				return false
			}
		}
	}
	return true
}
