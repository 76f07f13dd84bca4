// Package conformance is the shared test suite every sfconnect source and
// sink must pass: the Salesforce Pub/Sub and CometD sources, the HTTP ingest
// source, the Cosmos DB sink and the Salesforce sink.
//
// A connector's test supplies a driver ([SourceDriver] or [SinkDriver]) that
// builds fresh instances of the connector against a per-test upstream or
// target (sfsim, a seed, cosmosdb-server), and calls [RunSource] or
// [RunSink]:
//
//	func TestSource_Conformance(t *testing.T) {
//		conformance.RunSource(t, newDriver(t))
//	}
//
// The suite checks the contracts written in package connectorlib
// (Source, Sink, BatchError, IsRetryable, Checkpoint), not the connector's
// own features. Capabilities are declared as data ([SourceFeatures],
// [SinkFeatures]); a test that needs a capability skips, with a message
// naming the declaration, only when the driver declares it absent. A
// declaration that contradicts the contracts (Replay without an
// invalid-position policy, no MaxBatch) fails instead.
//
// Every subtest, including each configuration case, checks for leaked
// goroutines with goleak when it ends, after the driver's own t.Cleanup
// functions have run. Goroutines that already existed when the subtest
// started are ignored; drivers add their own ignores with [LeakOptioner].
// Because the check sees the whole process, do not run RunSource or RunSink
// from a parallel test.
//
// Every blocking call the suite makes (Open, Read, Ack, Write, Close) is
// bounded by the declared Timeout, so a connector that hangs fails the
// subtest instead of hanging the test binary.
package conformance
