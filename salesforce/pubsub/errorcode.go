package pubsub

// ErrorCodeKey is the gRPC trailer key under which the Pub/Sub API puts its
// own error code when a call fails: "The Pub/Sub API adds a custom error code
// in the Trailers section". The value is an ASCII string, one of the
// ErrorCode* constants below or a code this list does not know yet.
const ErrorCodeKey = "error-code"

// Known values of the [ErrorCodeKey] trailer. The official table is not
// public in full, so this list is partial; the gRPC status each comes with
// is given where it is known.
const (
	// ErrorCodeReplayIDCorrupted comes with INVALID_ARGUMENT: "The Replay ID
	// validation failed. Ensure that the replay_id … is valid and refers to an
	// event that is within the retention window". The replay id is unknown,
	// or older than the retention window (72 hours).
	ErrorCodeReplayIDCorrupted = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.corrupted"

	// ErrorCodeReplayIDValidationFailed comes with INVALID_ARGUMENT: the
	// subscription asked for the CUSTOM preset with a missing or malformed
	// replay id.
	ErrorCodeReplayIDValidationFailed = "sfdc.platform.eventbus.grpc.subscription.fetch.replayid.validation.failed"

	// ErrorCodeRequestedEventsInvalid comes with INVALID_ARGUMENT: the
	// FetchRequest's num_requested is invalid (zero or negative).
	ErrorCodeRequestedEventsInvalid = "sfdc.platform.eventbus.grpc.subscription.fetch.requested.events.invalid"

	// ErrorCodeServiceUnavailable comes with UNAVAILABLE: a transient
	// failure; the official Java example waits 5 seconds and subscribes again.
	ErrorCodeServiceUnavailable = "sfdc.platform.eventbus.grpc.service.unavailable"

	// ErrorCodeAuthError means the access token is bad or has expired, and the
	// client should log in again. Its gRPC status is not verified
	// (UNAUTHENTICATED is likely).
	ErrorCodeAuthError = "sfdc.platform.eventbus.grpc.service.auth.error"

	// ErrorCodeAuthRefreshInvalid is an authentication refresh failure seen in
	// third-party clients; neither its meaning nor its gRPC status is
	// documented.
	ErrorCodeAuthRefreshInvalid = "sfdc.platform.eventbus.grpc.service.auth.refresh.invalid"

	// ErrorCodeSubscriptionLimitExceeded: "You have exceeded the event
	// delivery limit for your org." Its gRPC status is not documented.
	ErrorCodeSubscriptionLimitExceeded = "sfdc.platform.eventbus.grpc.subscription.limit.exceeded"
)
