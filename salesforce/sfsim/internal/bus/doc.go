// Package bus is the simulated org's event bus: one ordered log of change
// events, platform events and PushTopic events with monotonically
// increasing replay ids, a retention window on the simulator's clock,
// channel matching, and injected gap and overflow events. Surfaces (Pub/Sub,
// CometD) read from it and encode events in their own wire formats.
package bus
