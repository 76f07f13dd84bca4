package conformance

// Fault is a failure a driver can inject into a test's upstream or target
// with Inject. A driver returns false from Inject for a fault it does not
// support; a test that needs it then skips, naming the fault, unless the
// driver's features declare the capability the fault exercises
// (SinkFeatures.Throttling for FaultThrottleOnce), in which case it fails.
type Fault string

// The faults the suite injects.
const (
	// FaultThrottleOnce makes the sink's target throttle the next write
	// (HTTP 429, REQUEST_LIMIT_EXCEEDED, Cosmos 429) and accept the one
	// after it.
	FaultThrottleOnce Fault = "throttle_once"

	// FaultDisconnectOnce breaks the upstream connection of every source
	// currently open on the test's upstream once (a dropped gRPC stream, a
	// CometD session that expires). The source either recovers by itself
	// or returns an error from Read, after which the suite reopens it from
	// the last acknowledged positions, as the runner does. Either way no
	// event may be lost.
	FaultDisconnectOnce Fault = "disconnect_once"
)
