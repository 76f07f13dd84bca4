// Package pubsubserver is the simulator's Salesforce Pub/Sub API: the gRPC
// service eventbus.v1.PubSub (pubsubpb.PubSubServer) over the simulated
// org's event bus. Build a [Server] with [New] and register it on a
// *grpc.Server with [Server.Register]; the caller owns the listener and TLS
// (the real Node client only speaks TLS with ALPN h2).
//
// The facts followed are in the project's protocol reference
// (salesforce-protocol.md §1, §2.3, §3 and §6). In short:
//
//   - Auth. Every call must carry the metadata accesstoken (a live session
//     of Config.Auth), tenantid (its org id, 15 or 18 characters) and
//     instanceurl (the simulator's URL when Config.InstanceURL is set).
//     Anything missing or wrong is UNAUTHENTICATED with the error-code
//     trailer sfdc.platform.eventbus.grpc.service.auth.error.
//   - Errors. Every failure is a gRPC status whose message ends in
//     "rpcId: <uuid>", with the trailers error-code (see [Error]; absent only
//     for UNIMPLEMENTED) and rpc-id. [Config.Fault] injects failures and
//     [Server.DropStreams] ends every open stream as a restart would.
//   - Topics. /data/<Object>ChangeEvent (/data/Foo__ChangeEvent for
//     Foo__c), /data/ChangeEvents, custom channels /data/<Name>__chn known to
//     the bus, and platform events /event/<Name> defined by
//     Config.PlatformEvents or the bus. Names are case-sensitive. Anything
//     else, PushTopic channels (/topic/…) included, is NOT_FOUND with
//     sfdc.platform.eventbus.grpc.topic.not.found.
//   - Schemas. A change event's schema is derived with cdc.ChangeEventSchema
//     from the describe snapshot the event was committed with, so events
//     committed before a field was added keep their (older) schema id, and
//     GetSchema serves every schema id ever used. Platform events use
//     cdc.PlatformEventSchema over the fields Config.PlatformEvents gives
//     when the event is first delivered.
//   - Payloads. Change events are encoded by a plan compiled from the cdc
//     schema (avrowriter.go), byte for byte what cdc.Schema.Encode writes but
//     about 20 times faster; platform events use cdc directly. Field names
//     in the bus's describe form (BillingCity) become schema paths
//     (BillingAddress.City) before cdc turns them into bitmaps. Recently
//     encoded events are cached, shared by all subscriptions.
//   - Subscribe: see [Server.Subscribe] for flow control, replay presets,
//     latest_replay_id, keepalives and the idle close.
//   - Publish and PublishStream accept platform events only: see
//     [Server.Publish].
//   - ManagedSubscribe (beta) is UNIMPLEMENTED: the Node client uses it only
//     when asked to (subscribeWithManagedSubscription).
//
// Choices where the reference is silent or unverified, made here:
//
//   - Replay ids are sent as 8 bytes (real servers send 10: the same 8 and
//     two zero bytes); requests may use 8 or 10.
//   - replay_id with LATEST or EARLIEST, CUSTOM without a replay_id, or a
//     replay_id that is not 8 bytes (or 10 ending in two zeros) is
//     INVALID_ARGUMENT with ...replayid.validation.failed; a well-formed id
//     outside the retention window (purged, or newer than the newest event)
//     is INVALID_ARGUMENT with ...replayid.corrupted.
//   - num_requested ≤ 0 in any FetchRequest is INVALID_ARGUMENT with
//     ...fetch.requested.events.invalid.
//   - The idle close ends the stream with status OK (the real status is
//     undocumented). Keepalives do not restart the idle interval.
//   - ConsumerEvent.event.id is a platform event's EventUuid (the
//     publisher's ProducerEvent.id, or a generated UUID); for change events
//     it is a UUID derived from the org id and replay id, stable across
//     redeliveries. Event headers are always empty.
//   - GetTopic's schema_id is empty for multi-entity channels
//     (/data/ChangeEvents, __chn), whose events carry one schema per object.
//   - Publishing to a change event topic is PERMISSION_DENIED with
//     sfdc.platform.eventbus.grpc.topic.meta.permission.
package pubsubserver
