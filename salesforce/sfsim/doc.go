// Package sfsim is a local Salesforce org for tests, development and
// demos: OAuth and SOAP login, the REST API (sObjects, query, composite,
// Bulk 2.0), Change Data Capture and platform events on an event bus, the
// Pub/Sub API over gRPC and the Streaming API over CometD, with faults a
// test can inject. Real Salesforce clients (jsforce, cometd,
// salesforce-pubsub-api-client) work against it unchanged.
//
// Use it the way franz-go's kfake is used for Kafka:
//
//	sim, err := sfsim.New(sfsim.PlatformEvent("Order__e", fields...))
//	defer sim.Close()
//	id, _ := sim.Create("Account", map[string]any{"Name": "Acme"})
//	// point a client at sim.URL() and sim.GRPCAddr()
//
// The control methods (Create, Transaction, PublishPlatformEvent,
// ExpireTokens, DropStreams, FailNext, InjectGap, AdvanceClock, ...) are
// also served over HTTP under /sim/ for tests in other languages.
//
// The org also pushes, as orgs do to an HTTP endpoint: AddOutboundMessage
// defines a workflow Outbound Message (SOAP notifications, up to 100 per
// message, retried until acknowledged with Salesforce's backoff and 24-hour
// limit), and AddWebhook an Apex trigger whose Queueable posts the changed
// records as JSON (signed, with an Idempotency-Key). Both are also defined
// under /sim/outbound-messages and /sim/webhooks.
package sfsim
