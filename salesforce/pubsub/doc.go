// Package pubsub holds sfconnect's client-side pieces of the Salesforce
// Pub/Sub API, the gRPC service eventbus.v1.PubSub: replay id encoding and
// the error codes the server reports in the "error-code" trailer.
//
// The gRPC contract itself is in the pubsubpb subpackage, generated from our
// own pubsub_api.proto by scripts/gen-proto.sh. Its names and field numbers
// match the real service, so the same stubs serve the source (as a client)
// and the simulator in sfsim (as a server).
package pubsub
