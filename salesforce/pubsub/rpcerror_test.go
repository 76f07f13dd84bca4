package pubsub

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// TestMapRPCError covers the classification table of mapRPCError,
// including cases sfsim cannot produce (a session ending mid-stream).
func TestMapRPCError(t *testing.T) {
	t.Parallel()
	trailer := func(errorCode string) metadata.MD {
		md := metadata.Pairs(RPCIDKey, "rpc-1")
		if errorCode != "" {
			md.Set(ErrorCodeKey, errorCode)
		}
		return md
	}
	for _, tc := range []struct {
		name          string
		f             rpcFailure
		wantClass     connectorlib.Class
		wantSentinel  error
		wantCode      string // connectorlib.Code
		wantRPCID     string
		wantGRPCCode  codes.Code
		wantInMessage string
	}{
		{
			name:      "replay id corrupted",
			f:         rpcFailure{err: status.Error(codes.InvalidArgument, "bad"), trailer: trailer(ErrorCodeReplayIDCorrupted)},
			wantClass: connectorlib.ClassPermanent, wantSentinel: ErrInvalidReplayID, wantCode: ErrorCodeReplayIDCorrupted,
			wantRPCID: "rpc-1", wantGRPCCode: codes.InvalidArgument,
		},
		{
			name:      "replay id validation failed",
			f:         rpcFailure{err: status.Error(codes.InvalidArgument, "bad"), trailer: trailer(ErrorCodeReplayIDValidationFailed)},
			wantClass: connectorlib.ClassPermanent, wantSentinel: ErrInvalidReplayID, wantCode: ErrorCodeReplayIDValidationFailed,
			wantRPCID: "rpc-1", wantGRPCCode: codes.InvalidArgument,
		},
		{
			name:      "unauthenticated after the retry",
			f:         rpcFailure{err: status.Error(codes.Unauthenticated, "no"), trailer: trailer(ErrorCodeAuthError), reauthed: true},
			wantClass: connectorlib.ClassPermanent, wantSentinel: ErrAuth, wantCode: ErrorCodeAuthError, wantRPCID: "rpc-1",
			wantGRPCCode: codes.Unauthenticated,
		},
		{
			name:      "unauthenticated mid-stream",
			f:         rpcFailure{err: status.Error(codes.Unauthenticated, "expired"), trailer: trailer(ErrorCodeAuthError), midStream: true},
			wantClass: connectorlib.ClassRetryable, wantSentinel: ErrAuth, wantRPCID: "rpc-1", wantGRPCCode: codes.Unauthenticated,
		},
		{
			name:      "unavailable",
			f:         rpcFailure{err: status.Error(codes.Unavailable, "down"), trailer: trailer(ErrorCodeServiceUnavailable)},
			wantClass: connectorlib.ClassRetryable, wantRPCID: "rpc-1", wantGRPCCode: codes.Unavailable,
		},
		{
			name:      "resource exhausted",
			f:         rpcFailure{err: status.Error(codes.ResourceExhausted, "slow down")},
			wantClass: connectorlib.ClassRetryable, wantGRPCCode: codes.ResourceExhausted,
		},
		{
			name:      "deadline exceeded on the server",
			f:         rpcFailure{err: status.Error(codes.DeadlineExceeded, "timeout")},
			wantClass: connectorlib.ClassRetryable, wantGRPCCode: codes.DeadlineExceeded,
		},
		{
			name:      "stream reset",
			f:         rpcFailure{err: status.Error(codes.Internal, "stream terminated by RST_STREAM with error code: INTERNAL_ERROR")},
			wantClass: connectorlib.ClassRetryable, wantGRPCCode: codes.Internal,
		},
		{
			name:      "stream ended with status OK",
			f:         rpcFailure{err: io.EOF, rpcID: "rpc-stream"},
			wantClass: connectorlib.ClassRetryable, wantSentinel: ErrStreamClosed, wantRPCID: "rpc-stream", wantGRPCCode: codes.OK,
		},
		{
			name:      "invalid argument",
			f:         rpcFailure{err: status.Error(codes.InvalidArgument, "bad topic"), trailer: trailer("sfdc.platform.eventbus.grpc.topic.validation.empty")},
			wantClass: connectorlib.ClassPermanent, wantCode: "sfdc.platform.eventbus.grpc.topic.validation.empty", wantRPCID: "rpc-1",
			wantGRPCCode: codes.InvalidArgument,
		},
		{
			name:      "not found without a trailer",
			f:         rpcFailure{err: status.Error(codes.NotFound, "no such topic rpcId: 1b2c-3d.")},
			wantClass: connectorlib.ClassPermanent, wantCode: "NotFound", wantRPCID: "1b2c-3d", wantGRPCCode: codes.NotFound,
		},
		{
			name:      "permission denied",
			f:         rpcFailure{err: status.Error(codes.PermissionDenied, "no access"), trailer: trailer("sfdc.platform.eventbus.grpc.topic.meta.permission")},
			wantClass: connectorlib.ClassPermanent, wantCode: "sfdc.platform.eventbus.grpc.topic.meta.permission", wantRPCID: "rpc-1",
			wantGRPCCode: codes.PermissionDenied,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.f.op = "subscribe /event/X__e"
			err := mapRPCError(context.Background(), false, tc.f)
			if got := connectorlib.Classify(err); got != tc.wantClass {
				t.Fatalf("class = %s, want %s (%v)", got, tc.wantClass, err)
			}
			if tc.wantSentinel != nil && !errors.Is(err, tc.wantSentinel) {
				t.Fatalf("error %v does not wrap %v", err, tc.wantSentinel)
			}
			if got := connectorlib.Code(err); got != tc.wantCode {
				t.Fatalf("code = %q, want %q", got, tc.wantCode)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("no *Error in %v", err)
			}
			if e.RPCID != tc.wantRPCID || e.Code != tc.wantGRPCCode || status.Code(err) != tc.wantGRPCCode {
				t.Fatalf("*Error = %+v; want rpc id %q and code %s", e, tc.wantRPCID, tc.wantGRPCCode)
			}
			if !strings.HasPrefix(err.Error(), "subscribe /event/X__e: ") || (tc.wantRPCID != "" && !strings.Contains(err.Error(), "rpc id "+tc.wantRPCID)) {
				t.Fatalf("error text %q: want the operation first and the rpc id", err)
			}
		})
	}
}

func TestMapRPCError_ClosedAndCancelled(t *testing.T) {
	t.Parallel()
	f := rpcFailure{op: "get topic /event/X__e", err: status.Error(codes.Canceled, "context canceled")}
	if err := mapRPCError(context.Background(), true, f); !errors.Is(err, ErrClosed) {
		t.Fatalf("closed: %v; want ErrClosed", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := mapRPCError(ctx, false, f); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v; want context.Canceled", err)
	}
	if err := mapRPCError(context.Background(), false, rpcFailure{op: "x"}); err != nil {
		t.Fatalf("nil error mapped to %v", err)
	}
}
