package pubsubserver

import (
	"context"
	"errors"
	"fmt"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/salesforce/pubsub"
)

// Error codes the simulator reports that salesforce/pubsub has no constant
// for yet. They come from the "Handle Errors" table of the Pub/Sub API
// documentation as quoted by third parties (the project's protocol reference
// lists the table as not retrieved in full); the gRPC status each comes with
// is the simulator's choice.
const (
	// errorCodeTopicNotFound: the topic does not exist (NOT_FOUND).
	errorCodeTopicNotFound = "sfdc.platform.eventbus.grpc.topic.not.found"
	// errorCodeTopicEmpty: the topic name is blank (INVALID_ARGUMENT).
	errorCodeTopicEmpty = "sfdc.platform.eventbus.grpc.topic.validation.empty"
	// errorCodeTopicPermission: "Topic metadata access error"; sent for a
	// publish to a topic that cannot be published to (PERMISSION_DENIED).
	errorCodeTopicPermission = "sfdc.platform.eventbus.grpc.topic.meta.permission"
	// errorCodeSchemaEmpty: the schema id is blank (INVALID_ARGUMENT).
	errorCodeSchemaEmpty = "sfdc.platform.eventbus.grpc.schema.validation.failed"
	// errorCodeSchemaPermission: "Schema access error"; sent for an unknown
	// schema id (NOT_FOUND).
	errorCodeSchemaPermission = "sfdc.platform.eventbus.grpc.schema.meta.permission"
	// errorCodeFetchTopicMismatch: a later FetchRequest names another topic
	// (INVALID_ARGUMENT).
	errorCodeFetchTopicMismatch = "sfdc.platform.eventbus.grpc.subscription.fetch.topic.mismatch"
	// errorCodeSubscriptionInternal: an event could not be encoded (INTERNAL).
	errorCodeSubscriptionInternal = "sfdc.platform.eventbus.grpc.subscription.internal.error"
	// errorCodePublishTopicMismatch: a later PublishRequest names another
	// topic (INVALID_ARGUMENT).
	errorCodePublishTopicMismatch = "sfdc.platform.eventbus.grpc.publish.topic.mismatch"
	// errorCodePublishTopicEmpty: a PublishRequest without a topic
	// (INVALID_ARGUMENT).
	errorCodePublishTopicEmpty = "sfdc.platform.eventbus.grpc.publish.topic.validation.empty"
	// errorCodePublishEventCount: a PublishRequest without events
	// (INVALID_ARGUMENT).
	errorCodePublishEventCount = "sfdc.platform.eventbus.grpc.publish.event.count.invalid"
)

// rpcIDTrailer is the trailer key the simulator puts the RPC id under. The
// documentation says only that the id is "also in the trailers"; the real
// key is unverified.
const rpcIDTrailer = "rpc-id"

// Error is a failed Pub/Sub API call: the gRPC status code, the value of
// the "error-code" trailer ([pubsub.ErrorCodeKey]) and a message. The server
// appends " rpcId: <id>" to the message, as Salesforce does, and sends the
// error code and the RPC id as trailers. A [Config.Fault] hook returns an
// *Error to fail a call exactly as Salesforce would.
type Error struct {
	// Code is the gRPC status code.
	Code codes.Code
	// ErrorCode is the Salesforce error code, for example
	// [pubsub.ErrorCodeServiceUnavailable]; empty sends no trailer.
	ErrorCode string
	// Message is the status message, without the rpcId suffix.
	Message string
}

// Error returns the code, error code and message.
func (e *Error) Error() string {
	return fmt.Sprintf("%s: %s (%s)", e.Code, e.Message, e.ErrorCode)
}

// newError returns an *Error with a formatted message.
func newError(code codes.Code, errorCode, format string, args ...any) *Error {
	return &Error{Code: code, ErrorCode: errorCode, Message: fmt.Sprintf(format, args...)}
}

// trailerSetter is what unary contexts and server streams have in common
// for sending trailers.
type trailerSetter func(metadata.MD)

// unaryTrailer sets trailers of a unary call.
func unaryTrailer(ctx context.Context) trailerSetter {
	return func(md metadata.MD) { _ = grpc.SetTrailer(ctx, md) }
}

// toStatus turns err into the error a handler returns: an *Error becomes
// its status with the error-code and rpc-id trailers set, a gRPC status
// error passes through unchanged, and anything else becomes UNAVAILABLE
// with [pubsub.ErrorCodeServiceUnavailable] (a transient failure, which is
// how a fault hook's plain errors read to clients).
func toStatus(err error, rpcID string, setTrailer trailerSetter) error {
	if err == nil {
		return nil
	}
	var e *Error
	if !errors.As(err, &e) {
		if st, ok := status.FromError(err); ok {
			return st.Err()
		}
		e = &Error{Code: codes.Unavailable, ErrorCode: pubsub.ErrorCodeServiceUnavailable, Message: err.Error()}
	}
	md := metadata.Pairs(rpcIDTrailer, rpcID)
	if e.ErrorCode != "" {
		md.Set(pubsub.ErrorCodeKey, e.ErrorCode)
	}
	setTrailer(md)
	return status.Error(e.Code, e.Message+" rpcId: "+rpcID)
}
