package pubsub

import (
	"context"

	"google.golang.org/grpc"
)

// DialWithOptions is Dial with extra gRPC dial options, for the tests of
// package pubsub_test (which count RPCs with interceptors). Those tests
// cannot live in package pubsub: they import sfsim, which imports pubsub.
func DialWithOptions(ctx context.Context, cfg DialConfig, opts ...grpc.DialOption) (*Client, error) {
	return dial(ctx, cfg, opts...)
}
