package source

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
)

// Transports.
const (
	TransportPubSub = "pubsub"
	TransportCometD = "cometd"
)

// Replay policies for a stored replay id Salesforce no longer has.
const (
	ReplayFail     = "fail"
	ReplayEarliest = "earliest"
	ReplayLatest   = "latest"
	ReplayResync   = "resync"
)

// Loop actions for events whose change origin is one of our own clients.
const (
	LoopDrop = "drop"
	LoopTag  = "tag"
)

// Config configures the Salesforce source. Authentication is configured
// separately (salesforce.AuthConfig).
type Config struct {
	Channels         []string              `envconfig:"SOURCE_CHANNELS" required:"true" desc:"Comma-separated channels: /data/AccountChangeEvent, /data/ChangeEvents, /data/Name__chn, /event/Name__e, /topic/PushTopicName (CometD only)."`
	Transport        string                `envconfig:"SOURCE_TRANSPORT" default:"pubsub" desc:"pubsub (gRPC, default) or cometd (the legacy Streaming API; needed for /topic/ channels)."`
	PubSubEndpoint   string                `envconfig:"SOURCE_PUBSUB_ENDPOINT" default:"api.pubsub.salesforce.com:7443" desc:"host:port of the Pub/Sub API."`
	PubSubPlaintext  bool                  `envconfig:"SOURCE_PUBSUB_PLAINTEXT" default:"false" desc:"Talk to the Pub/Sub API without TLS (a local simulator started with --plaintext only)."`
	Appetite         int                   `envconfig:"SOURCE_PUBSUB_BATCH" default:"100" desc:"Events requested from Pub/Sub at a time (1-100)."`
	InitialReplay    string                `envconfig:"SOURCE_INITIAL_REPLAY" default:"latest" desc:"Where a channel with no stored position starts: latest or earliest (everything retained)."`
	OnInvalidReplay  string                `envconfig:"SOURCE_ON_INVALID_REPLAY" default:"fail" desc:"When a stored replay id is no longer available: fail (stop, the default), earliest, latest (skips events: counted and logged), or resync (re-read changed records by SOQL, then continue from the tip)."`
	ResyncBuffer     time.Duration         `envconfig:"SOURCE_RESYNC_BUFFER" default:"5m" desc:"How far before the last seen commit time a resync re-reads records."`
	TopicTemplate    string                `envconfig:"SOURCE_TOPIC_TEMPLATE" default:"salesforce.{entity}" desc:"Kafka topic of each record; {entity} is the sObject or event name, {channel} the channel without slashes."`
	DLQTopic         string                `envconfig:"SOURCE_DLQ_TOPIC" desc:"Topic for events that cannot be decoded; default sfconnect.dlq.<CONNECTOR_NAME>."`
	Tombstones       bool                  `envconfig:"SOURCE_TOMBSTONES" default:"false" desc:"After a DELETE record, also write a tombstone (null value) for compacted topics."`
	LoopClientIDs    []string              `envconfig:"SOURCE_LOOP_CLIENT_IDS" desc:"Client ids (Sforce-Call-Options client=<id>) whose changes are our own writes, e.g. the Salesforce sink's."`
	LoopAction       string                `envconfig:"SOURCE_LOOP_ACTION" default:"drop" desc:"drop or tag changes made by SOURCE_LOOP_CLIENT_IDS."`
	PlatformEventKey string                `envconfig:"SOURCE_PLATFORM_EVENT_KEY_FIELD" desc:"Payload field used as the Kafka key of platform events; default the event UUID."`
	GapRepair        bool                  `envconfig:"SOURCE_GAP_REPAIR" default:"true" desc:"Repair gap events by reading the records' current state through REST."`
	QueueMaxBytes    connectorlib.ByteSize `envconfig:"SOURCE_QUEUE_MAX_BYTES" default:"32MiB" desc:"Most bytes of records buffered between the Salesforce subscriptions and Kafka; a full buffer stops asking Salesforce for more (flow control). Bounds memory when events are large (platform events up to 1 MB)."`
	SnapshotBulk     int                   `envconfig:"SOURCE_SNAPSHOT_BULK_THRESHOLD" default:"10000" desc:"An object with more records than this is snapshotted by a Bulk API 2.0 query job instead of paged REST SOQL (0: never). Below it paged SOQL takes few calls and starts at once; above it each 2,000 records cost a REST call while a Bulk job reads 10,000 per results page."`
	SnapshotObjects  []string              `envconfig:"SOURCE_SNAPSHOT_OBJECTS" desc:"Objects whose current state is loaded (kind SNAPSHOT) before their channel streams, on the first run only; each needs its /data/<Object>ChangeEvent channel or /data/ChangeEvents in SOURCE_CHANNELS."`

	// Record values: json, or avro registered in a Schema Registry (avro.go).
	ValueFormat            string `envconfig:"SOURCE_VALUE_FORMAT" default:"json" desc:"Record value format: json, or avro (Confluent Schema Registry wire format; the schema is registered under the subject <topic>-value)."`
	SchemaRegistryURL      string `envconfig:"SOURCE_SCHEMA_REGISTRY_URL" desc:"Schema Registry URL (comma-separated for several); required when SOURCE_VALUE_FORMAT=avro."`
	SchemaRegistryUsername string `envconfig:"SOURCE_SCHEMA_REGISTRY_USERNAME" desc:"Schema Registry basic-auth username (API key), if the registry needs one."`
	SchemaRegistryPassword string `envconfig:"SOURCE_SCHEMA_REGISTRY_PASSWORD" secret:"true" desc:"Schema Registry basic-auth password (API secret)."`
}

// Validate implements connectorlib.Validator.
func (c Config) Validate() error {
	p := connectorlib.EnvPrefix + "_"
	var errs []error
	if len(c.Channels) == 0 {
		errs = append(errs, fmt.Errorf("%sSOURCE_CHANNELS: list at least one channel", p))
	}
	for _, ch := range c.Channels {
		switch {
		case strings.HasPrefix(ch, "/data/"), strings.HasPrefix(ch, "/event/"):
		case strings.HasPrefix(ch, "/topic/"):
			if c.Transport != TransportCometD {
				errs = append(errs, fmt.Errorf("%sSOURCE_CHANNELS: %s is a PushTopic channel, which needs %sSOURCE_TRANSPORT=cometd", p, ch, p))
			}
		default:
			errs = append(errs, fmt.Errorf("%sSOURCE_CHANNELS: %q is not a channel (/data/..., /event/... or /topic/...)", p, ch))
		}
	}
	if c.Transport != TransportPubSub && c.Transport != TransportCometD {
		errs = append(errs, fmt.Errorf("%sSOURCE_TRANSPORT: must be pubsub or cometd, got %q", p, c.Transport))
	}
	if c.QueueMaxBytes < 0 {
		errs = append(errs, fmt.Errorf("%sSOURCE_QUEUE_MAX_BYTES: must not be negative", p))
	}
	if c.Appetite < 1 || c.Appetite > 100 {
		errs = append(errs, fmt.Errorf("%sSOURCE_PUBSUB_BATCH: must be between 1 and 100, got %d", p, c.Appetite))
	}
	if c.InitialReplay != ReplayLatest && c.InitialReplay != ReplayEarliest {
		errs = append(errs, fmt.Errorf("%sSOURCE_INITIAL_REPLAY: must be latest or earliest, got %q", p, c.InitialReplay))
	}
	switch c.OnInvalidReplay {
	case ReplayFail, ReplayEarliest, ReplayLatest, ReplayResync:
	default:
		errs = append(errs, fmt.Errorf("%sSOURCE_ON_INVALID_REPLAY: must be fail, earliest, latest or resync, got %q", p, c.OnInvalidReplay))
	}
	if c.SnapshotBulk < 0 {
		errs = append(errs, fmt.Errorf("%sSOURCE_SNAPSHOT_BULK_THRESHOLD: must not be negative (0 disables Bulk), got %d", p, c.SnapshotBulk))
	}
	if strings.TrimSpace(c.TopicTemplate) == "" {
		errs = append(errs, fmt.Errorf("%sSOURCE_TOPIC_TEMPLATE: must not be empty", p))
	}
	for _, o := range c.SnapshotObjects {
		if c.snapshotChannel(o) == "" {
			errs = append(errs, fmt.Errorf("%sSOURCE_SNAPSHOT_OBJECTS: %s has no change channel in %sSOURCE_CHANNELS (/data/%s or /data/ChangeEvents)", p, o, p, strings.TrimPrefix(changeChannel(o), "/data/")))
		}
	}
	if c.LoopAction != LoopDrop && c.LoopAction != LoopTag {
		errs = append(errs, fmt.Errorf("%sSOURCE_LOOP_ACTION: must be drop or tag, got %q", p, c.LoopAction))
	}
	errs = append(errs, c.validateValueFormat(p)...)
	return errors.Join(errs...)
}

// changeChannel is the change event channel of an object.
func changeChannel(object string) string {
	if base, ok := strings.CutSuffix(object, "__c"); ok {
		return "/data/" + base + "__ChangeEvent"
	}
	return "/data/" + object + "ChangeEvent"
}

// snapshotChannel returns the configured channel that streams object's
// changes after its snapshot, or "".
func (c Config) snapshotChannel(object string) string {
	own := changeChannel(object)
	all := ""
	for _, ch := range c.Channels {
		switch ch {
		case own:
			return own
		case "/data/ChangeEvents":
			all = ch
		}
	}
	return all
}
