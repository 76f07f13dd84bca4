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
package sfsim
