package org

import "fmt"

// Error is a Salesforce record error: a status code such as
// REQUIRED_FIELD_MISSING, a message, and the fields concerned. The REST
// layer renders it as errorCode (single-record calls) or statusCode
// (collections).
type Error struct {
	Code    string
	Message string
	Fields  []string
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func errorf(code string, fields []string, format string, args ...any) *Error {
	if fields == nil {
		fields = []string{}
	}
	return &Error{Code: code, Message: fmt.Sprintf(format, args...), Fields: fields}
}

// Status codes the org produces.
const (
	CodeRequiredFieldMissing  = "REQUIRED_FIELD_MISSING"
	CodeInvalidField          = "INVALID_FIELD"
	CodeInvalidFieldForInsert = "INVALID_FIELD_FOR_INSERT_UPDATE"
	CodeInvalidType           = "INVALID_TYPE"
	CodeInvalidTypeOnField    = "INVALID_TYPE_ON_FIELD_IN_RECORD"
	CodeStringTooLong         = "STRING_TOO_LONG"
	CodeNotFound              = "NOT_FOUND"
	CodeEntityIsDeleted       = "ENTITY_IS_DELETED"
	CodeInvalidCrossReference = "INVALID_CROSS_REFERENCE_KEY"
	CodeMalformedID           = "MALFORMED_ID"
	CodeDuplicateValue        = "DUPLICATE_VALUE"
	CodeCustomValidation      = "FIELD_CUSTOM_VALIDATION_EXCEPTION"
	CodeRequestLimitExceeded  = "REQUEST_LIMIT_EXCEEDED"
	CodeUndeleteFailed        = "UNDELETE_FAILED"
)
