package pubsub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// RPCIDKey is the gRPC trailer key the RPC id of a failed call is read
// from. Salesforce documents only that the id is "also in the trailers"
// (and in the status message after "rpcId:"); the key is unverified, so the
// message is read too. sfsim sends it under this key.
const RPCIDKey = "rpc-id"

// rpcIDMarker precedes the RPC id in Salesforce status messages.
const rpcIDMarker = "rpcId:"

// Error is a failed Pub/Sub API call, as the server reported it: the gRPC
// status code and message, the Salesforce error code from the
// [ErrorCodeKey] trailer and the RPC id that Salesforce support asks for.
// Errors returned by this package wrap an *Error (find it with errors.As)
// inside a connectorlib class marker: see [Client] for how codes are
// classified. An Error never holds an access token.
type Error struct {
	// Op is what failed, for example "subscribe /data/AccountChangeEvent"
	// or "get schema V2MGwDA2aIP0yQS98S2L6Q".
	Op string
	// Code is the gRPC status code; codes.OK when the server ended a
	// subscription without an error ([ErrStreamClosed]).
	Code codes.Code
	// ErrorCode is the value of the error-code trailer, for example
	// [ErrorCodeReplayIDCorrupted]; empty when the server sent none.
	ErrorCode string
	// RPCID is the id of the failed call, from the rpc-id trailer, the
	// status message or the subscription's last FetchResponse; empty when
	// the call never reached the server.
	RPCID string
	// Message is the status message.
	Message string

	kind error // ErrInvalidReplayID, ErrAuth, ErrStreamClosed or nil
}

// Error returns the operation, code, message, error code and RPC id.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Op)
	b.WriteString(": ")
	if e.kind != nil {
		b.WriteString(e.kind.Error())
		b.WriteString(": ")
	}
	if e.Code != codes.OK {
		b.WriteString(e.Code.String())
		b.WriteString(": ")
	}
	b.WriteString(e.Message)
	if e.ErrorCode != "" || e.RPCID != "" {
		b.WriteString(" (")
		if e.ErrorCode != "" {
			b.WriteString("error-code ")
			b.WriteString(e.ErrorCode)
		}
		if e.RPCID != "" {
			if e.ErrorCode != "" {
				b.WriteString(", ")
			}
			b.WriteString("rpc id ")
			b.WriteString(e.RPCID)
		}
		b.WriteString(")")
	}
	return b.String()
}

// Unwrap returns the sentinel the error is an instance of
// ([ErrInvalidReplayID], [ErrAuth], [ErrStreamClosed]), or nil.
func (e *Error) Unwrap() error { return e.kind }

// GRPCStatus returns the error as a gRPC status, so that status.Code and
// status.FromError see the server's code.
func (e *Error) GRPCStatus() *status.Status { return status.New(e.Code, e.Message) }

// rpcFailure describes one failed RPC for [mapRPCError].
type rpcFailure struct {
	op      string
	err     error       // from the generated client or stream
	trailer metadata.MD // may be nil
	rpcID   string      // fallback RPC id (the stream's last FetchResponse)
	// reauthed is true when the call was already retried with a fresh
	// session: UNAUTHENTICATED is then permanent.
	reauthed bool
	// midStream is true when the error ended a subscription that had
	// delivered responses: UNAUTHENTICATED is then retryable.
	midStream bool
}

// mapRPCError turns the failure of an RPC into the error this package
// returns. ctx is the caller's context and closed reports whether the
// client or subscription was closed: cancellations they caused come back as
// ctx's error or [ErrClosed] rather than as server failures.
//
// Classification (connectorlib.Classify), in one place:
//   - replay id corrupted or validation failed: wraps [ErrInvalidReplayID],
//     permanent with the error code, so the caller applies its replay policy;
//   - UNAUTHENTICATED: wraps [ErrAuth]; permanent after the retry with a
//     fresh session, retryable when a running subscription's session ended;
//   - UNAVAILABLE, RESOURCE_EXHAUSTED, DEADLINE_EXCEEDED, ABORTED, INTERNAL,
//     UNKNOWN, a server-side cancel (stream reset) and the server ending a
//     subscription ([ErrStreamClosed]): retryable;
//   - INVALID_ARGUMENT, NOT_FOUND, PERMISSION_DENIED, FAILED_PRECONDITION,
//     UNIMPLEMENTED, OUT_OF_RANGE, ALREADY_EXISTS: permanent, with the
//     error-code trailer (or the gRPC code name) as the code;
//   - anything else: retryable.
func mapRPCError(ctx context.Context, closed bool, f rpcFailure) error {
	if f.err == nil {
		return nil
	}
	if closed {
		return fmt.Errorf("%s: %w", f.op, ErrClosed)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return fmt.Errorf("%s: %w", f.op, ctxErr)
	}
	e := &Error{Op: f.op}
	if errors.Is(f.err, io.EOF) {
		e.Code, e.kind, e.Message = codes.OK, ErrStreamClosed, "stream ended with status OK"
	} else {
		st := status.Convert(f.err)
		e.Code, e.Message = st.Code(), st.Message()
	}
	e.ErrorCode = firstMD(f.trailer, ErrorCodeKey)
	e.RPCID = firstMD(f.trailer, RPCIDKey)
	if e.RPCID == "" {
		e.RPCID = rpcIDFromMessage(e.Message)
	}
	if e.RPCID == "" {
		e.RPCID = f.rpcID
	}

	switch {
	case e.ErrorCode == ErrorCodeReplayIDCorrupted || e.ErrorCode == ErrorCodeReplayIDValidationFailed:
		e.kind = ErrInvalidReplayID
		return connectorlib.PermanentCode(e.ErrorCode, e)
	case e.Code == codes.Unauthenticated:
		e.kind = ErrAuth
		if f.midStream && !f.reauthed {
			return connectorlib.Retryable(e)
		}
		return connectorlib.PermanentCode(permanentCode(e), e)
	}
	switch e.Code {
	case codes.OK, codes.Unavailable, codes.ResourceExhausted, codes.DeadlineExceeded, codes.Aborted,
		codes.Internal, codes.Unknown, codes.Canceled:
		return connectorlib.Retryable(e)
	case codes.InvalidArgument, codes.NotFound, codes.PermissionDenied, codes.FailedPrecondition,
		codes.Unimplemented, codes.OutOfRange, codes.AlreadyExists:
		return connectorlib.PermanentCode(permanentCode(e), e)
	default:
		return connectorlib.Retryable(e)
	}
}

// permanentCode is the machine code a permanent error carries: the
// Salesforce error code, else the gRPC code name.
func permanentCode(e *Error) string {
	if e.ErrorCode != "" {
		return e.ErrorCode
	}
	return e.Code.String()
}

// firstMD returns the first value of key in md, trimmed, or "".
func firstMD(md metadata.MD, key string) string {
	if v := md.Get(key); len(v) > 0 {
		return strings.TrimSpace(v[0])
	}
	return ""
}

// rpcIDFromMessage returns the id after "rpcId:" in a Salesforce status
// message, or "".
func rpcIDFromMessage(msg string) string {
	_, after, ok := strings.Cut(msg, rpcIDMarker)
	if !ok {
		return ""
	}
	fields := strings.Fields(after)
	if len(fields) == 0 {
		return ""
	}
	return strings.TrimRight(fields[0], ".,;)")
}
