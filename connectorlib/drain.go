package connectorlib

import (
	"context"
	"time"
)

// drainContext returns a context that stays alive after ctx is done, for
// finishing in-flight work (flush, commit) on shutdown, but is cancelled
// timeout after ctx is done, so that a drain is bounded in time.
func drainContext(ctx context.Context, timeout time.Duration) (context.Context, context.CancelFunc) {
	dctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	stop := context.AfterFunc(ctx, func() {
		t := time.AfterFunc(timeout, cancel)
		context.AfterFunc(dctx, func() { t.Stop() })
	})
	return dctx, func() {
		stop()
		cancel()
	}
}
