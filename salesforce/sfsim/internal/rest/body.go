package rest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// maxJSONBody bounds JSON request bodies. Salesforce's REST limit is
// larger (about 50 MB); 16 MiB is ample for 200-record collections and
// keeps a hostile request from exhausting memory.
const maxJSONBody = 16 << 20

// readBody reads the request body up to limit bytes. ok is false when the
// body is larger; the error response has then been written.
func readBody(w http.ResponseWriter, r *http.Request, limit int64) ([]byte, bool) {
	if r.Body == nil {
		return nil, true
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, limit+1))
	if err != nil {
		writeJSONParserError(w, "Unable to read the request body: "+err.Error())
		return nil, false
	}
	if int64(len(b)) > limit {
		writeErrors(w, http.StatusRequestEntityTooLarge, apiError{
			Message: fmt.Sprintf("The request body exceeds the simulator's limit of %d bytes", limit), ErrorCode: codeRequestTooLarge})
		return nil, false
	}
	return b, true
}

// decodeJSON parses a complete JSON document. Numbers decode as float64,
// as the org expects.
func decodeJSON(b []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("unexpected data after the JSON document at offset %d", dec.InputOffset())
	}
	return v, nil
}

// readJSON reads and parses the body, answering JSON_PARSER_ERROR for an
// empty or malformed body. ok is false when an error response was written.
func readJSON(w http.ResponseWriter, r *http.Request) (any, bool) {
	b, ok := readBody(w, r, maxJSONBody)
	if !ok {
		return nil, false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		writeJSONParserError(w, msgNoBody)
		return nil, false
	}
	v, err := decodeJSON(b)
	if err != nil {
		writeJSONParserError(w, jsonErrorMessage(err))
		return nil, false
	}
	return v, true
}

// readObject reads a JSON object body; what names the expected type in
// the error message, as Salesforce's deserializer does.
func readObject(w http.ResponseWriter, r *http.Request, what string) (map[string]any, bool) {
	v, ok := readJSON(w, r)
	if !ok {
		return nil, false
	}
	m, isObj := v.(map[string]any)
	if !isObj {
		writeJSONParserError(w, fmt.Sprintf("Cannot deserialize instance of %s from %s value at [line:1, column:1]", what, jsonToken(v)))
		return nil, false
	}
	return m, true
}

// decodeInto reads a JSON body into a typed request struct.
func decodeInto(w http.ResponseWriter, r *http.Request, dst any) bool {
	b, ok := readBody(w, r, maxJSONBody)
	if !ok {
		return false
	}
	if len(bytes.TrimSpace(b)) == 0 {
		writeJSONParserError(w, msgNoBody)
		return false
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(dst); err != nil {
		writeJSONParserError(w, jsonErrorMessage(err))
		return false
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		writeJSONParserError(w, fmt.Sprintf("Unexpected data after the JSON document at offset %d", dec.InputOffset()))
		return false
	}
	return true
}

// jsonErrorMessage words a decoding error the way Salesforce's parser
// errors read (the exact Jackson wording is not reproduced).
func jsonErrorMessage(err error) string {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return fmt.Sprintf("Unexpected character: %s at [offset:%d]", syn.Error(), syn.Offset)
	case errors.As(err, &typ):
		return fmt.Sprintf("Cannot deserialize value of type %s from %s (field %q) at [offset:%d]", typ.Type, typ.Value, typ.Field, typ.Offset)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "Unexpected end-of-input: expected close marker"
	}
	return err.Error()
}

// jsonToken names the JSON token type of a decoded value.
func jsonToken(v any) string {
	switch v.(type) {
	case []any:
		return "START_ARRAY"
	case string:
		return "VALUE_STRING"
	case float64:
		return "VALUE_NUMBER_FLOAT"
	case bool:
		return "VALUE_TRUE"
	case nil:
		return "VALUE_NULL"
	}
	return "START_OBJECT"
}
