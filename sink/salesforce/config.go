package salesforce

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/schemaregistry"
)

// Write modes (SINK_SALESFORCE_MODE).
const (
	// ModeComposite writes records through sObject Collections (and Bulk
	// API 2.0 above SINK_SALESFORCE_BULK_THRESHOLD).
	ModeComposite = "composite"
	// ModePlatformEvent publishes each change as a platform event through
	// the Pub/Sub API instead of writing records.
	ModePlatformEvent = "platform_event"
)

// Value formats (SINK_SALESFORCE_VALUE_FORMAT).
const (
	ValueFormatJSON = "json"
	ValueFormatAvro = "avro"
)

// Conflict policies (SINK_SALESFORCE_CONFLICT_POLICY and per object).
const (
	// PolicyLastWriterWins applies a change unless Salesforce's record was
	// last modified, by someone other than this sink, after the change was
	// made in the web application.
	PolicyLastWriterWins = "last_writer_wins"
	// PolicySalesforceWins also drops changes made up to
	// SINK_SALESFORCE_CONFLICT_WINDOW after such a Salesforce edit.
	PolicySalesforceWins = "salesforce_wins"
	// PolicyWebAppWins always applies the change.
	PolicyWebAppWins = "webapp_wins"
	// PolicyFieldMerge applies the fields Salesforce did not change since
	// the web application read them; overlapping fields keep Salesforce's
	// value.
	PolicyFieldMerge = "field_merge"
)

// clientIDPattern is what a Sforce-Call-Options client id may contain: the
// source splits changeOrigin on ; , = and /, so those must not appear.
var clientIDPattern = regexp.MustCompile(`^[A-Za-z0-9_.-]+$`)

// Config configures the Salesforce sink. Authentication is configured
// separately (salesforce.AuthConfig), the Kafka side by
// connectorlib.SinkConfig.
type Config struct {
	Objects     []string `envconfig:"SINK_SALESFORCE_OBJECTS" required:"true" desc:"Comma-separated web-app object types and the sObjects they map to: customer=Account,person=Contact (a bare Account maps Account to itself). Changes to other types are dead-lettered."`
	Fields      []string `envconfig:"SINK_SALESFORCE_FIELDS" required:"true" desc:"Comma-separated field mapping, <web-app type>.<web-app field>=<Salesforce field>: customer.name=Name,customer.phone=Phone. A change naming an unmapped field is dead-lettered, not silently trimmed."`
	ExternalIDs []string `envconfig:"SINK_SALESFORCE_EXTERNAL_IDS" desc:"Comma-separated sObject=external id field used to upsert: Account=External_Id__c. A change may name another in external_id_field."`
	ClientID    string   `envconfig:"SINK_SALESFORCE_CLIENT_ID" default:"sfconnect" desc:"Sent on every request as Sforce-Call-Options: client=<id>; list it in SFCONNECT_SOURCE_LOOP_CLIENT_IDS so the source drops the sink's own writes. Letters, digits, _ - . only."`
	Mode        string   `envconfig:"SINK_SALESFORCE_MODE" default:"composite" desc:"composite (sObject Collections, Bulk API 2.0 for large batches) or platform_event (publish each change as SINK_SALESFORCE_PLATFORM_EVENT through the Pub/Sub API)."`
	Pack        bool     `envconfig:"SINK_SALESFORCE_PACK" default:"true" desc:"Send up to 5 collection writes (1,000 records) or 5 lookup queries as one /composite request, which Salesforce counts as one API call."`

	BulkThreshold int           `envconfig:"SINK_SALESFORCE_BULK_THRESHOLD" default:"2000" desc:"Records of one object and operation in one batch above which a Bulk API 2.0 ingest job is used instead of sObject Collections (0: never). Raise SFCONNECT_SINK_BATCH_MAX_RECORDS to reach it."`
	BulkPoll      time.Duration `envconfig:"SINK_SALESFORCE_BULK_POLL" default:"500ms" desc:"First delay before polling a Bulk API 2.0 job's state; it doubles up to 5s."`

	ConflictPolicy   string        `envconfig:"SINK_SALESFORCE_CONFLICT_POLICY" default:"last_writer_wins" desc:"Default conflict policy: last_writer_wins, salesforce_wins, webapp_wins or field_merge (see docs/adr conflict resolution)."`
	ConflictPolicies []string      `envconfig:"SINK_SALESFORCE_CONFLICT_POLICIES" desc:"Per-sObject policy overrides: Account=field_merge,Contact=webapp_wins."`
	ConflictWindow   time.Duration `envconfig:"SINK_SALESFORCE_CONFLICT_WINDOW" default:"5m" desc:"salesforce_wins: a web-app change made less than this after a Salesforce edit by someone else loses too."`
	ConflictsTopic   string        `envconfig:"SINK_SALESFORCE_CONFLICTS_TOPIC" desc:"Topic receiving every change that lost a conflict, with Salesforce's version; default sfconnect.conflicts.<CONNECTOR_NAME>. Created if missing."`

	APIReservePercent  int           `envconfig:"SINK_SALESFORCE_API_RESERVE_PERCENT" default:"10" desc:"Share of the org's daily API requests (Sforce-Limit-Info) kept for others: once fewer remain, the sink makes at most one call per SINK_SALESFORCE_API_RESERVE_INTERVAL (0: no reserve)."`
	APIReserveInterval time.Duration `envconfig:"SINK_SALESFORCE_API_RESERVE_INTERVAL" default:"10s" desc:"Minimum time between two API calls while the budget is within the reserve."`
	BreakerFailures    int           `envconfig:"SINK_SALESFORCE_BREAKER_FAILURES" default:"3" desc:"Consecutive throttling or unavailability answers (REQUEST_LIMIT_EXCEEDED, 429, 503) that open the circuit breaker."`
	BreakerCooldown    time.Duration `envconfig:"SINK_SALESFORCE_BREAKER_COOLDOWN" default:"30s" desc:"How long the open breaker refuses calls before letting one through; doubles while trial calls fail, up to 10 times."`

	PlatformEvent   string `envconfig:"SINK_SALESFORCE_PLATFORM_EVENT" desc:"platform_event mode: the event to publish (WebAppChange__e); SINK_SALESFORCE_FIELDS then maps to its fields."`
	PubSubEndpoint  string `envconfig:"SINK_SALESFORCE_PUBSUB_ENDPOINT" default:"api.pubsub.salesforce.com:7443" desc:"platform_event mode: host:port of the Pub/Sub API."`
	PubSubPlaintext bool   `envconfig:"SINK_SALESFORCE_PUBSUB_PLAINTEXT" default:"false" desc:"platform_event mode: talk to the Pub/Sub API without TLS (a local simulator started with --plaintext only)."`

	ValueFormat            string `envconfig:"SINK_SALESFORCE_VALUE_FORMAT" default:"json" desc:"Input value format: json, or avro (Confluent Schema Registry wire format, schemas/webapp_change.avsc or a compatible writer schema)."`
	SchemaRegistryURL      string `envconfig:"SINK_SALESFORCE_SCHEMA_REGISTRY_URL" desc:"Schema Registry URL (comma-separated for several); required when SINK_SALESFORCE_VALUE_FORMAT=avro."`
	SchemaRegistryUsername string `envconfig:"SINK_SALESFORCE_SCHEMA_REGISTRY_USERNAME" desc:"Schema Registry basic-auth username, if the registry needs one."`
	SchemaRegistryPassword string `envconfig:"SINK_SALESFORCE_SCHEMA_REGISTRY_PASSWORD" secret:"true" desc:"Schema Registry basic-auth password."`
}

// Validate implements connectorlib.Validator: every problem, joined, each
// naming its variable.
func (c Config) Validate() error {
	p := connectorlib.EnvPrefix + "_"
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", p, name, fmt.Sprintf(format, args...)))
	}
	if len(c.Objects) == 0 {
		bad("SINK_SALESFORCE_OBJECTS", "map at least one web-app type to an sObject")
	}
	if len(c.Fields) == 0 {
		bad("SINK_SALESFORCE_FIELDS", "map at least one web-app field to a Salesforce field")
	}
	if _, err := c.mapping(); err != nil {
		errs = append(errs, err)
	}
	if !clientIDPattern.MatchString(c.ClientID) {
		bad("SINK_SALESFORCE_CLIENT_ID", "must be letters, digits, _ - . only, got %q", c.ClientID)
	}
	switch c.Mode {
	case ModeComposite:
	case ModePlatformEvent:
		if !strings.HasSuffix(c.PlatformEvent, "__e") {
			bad("SINK_SALESFORCE_PLATFORM_EVENT", "must name a platform event (Name__e) in platform_event mode, got %q", c.PlatformEvent)
		}
	default:
		bad("SINK_SALESFORCE_MODE", "must be composite or platform_event, got %q", c.Mode)
	}
	if c.BulkThreshold < 0 {
		bad("SINK_SALESFORCE_BULK_THRESHOLD", "must not be negative")
	}
	if c.BulkPoll <= 0 {
		bad("SINK_SALESFORCE_BULK_POLL", "must be positive")
	}
	if !validPolicy(c.ConflictPolicy) {
		bad("SINK_SALESFORCE_CONFLICT_POLICY", "must be last_writer_wins, salesforce_wins, webapp_wins or field_merge, got %q", c.ConflictPolicy)
	}
	for _, entry := range c.ConflictPolicies {
		obj, pol, ok := strings.Cut(entry, "=")
		if !ok || !sobjectName.MatchString(strings.TrimSpace(obj)) || !validPolicy(strings.TrimSpace(pol)) {
			bad("SINK_SALESFORCE_CONFLICT_POLICIES", "%q is not <sObject>=<last_writer_wins|salesforce_wins|webapp_wins|field_merge>", entry)
		}
	}
	if c.ConflictWindow < 0 {
		bad("SINK_SALESFORCE_CONFLICT_WINDOW", "must not be negative")
	}
	if c.APIReservePercent < 0 || c.APIReservePercent > 90 {
		bad("SINK_SALESFORCE_API_RESERVE_PERCENT", "must be between 0 and 90, got %d", c.APIReservePercent)
	}
	if c.APIReserveInterval <= 0 {
		bad("SINK_SALESFORCE_API_RESERVE_INTERVAL", "must be positive")
	}
	if c.BreakerFailures < 1 {
		bad("SINK_SALESFORCE_BREAKER_FAILURES", "must be at least 1")
	}
	if c.BreakerCooldown <= 0 {
		bad("SINK_SALESFORCE_BREAKER_COOLDOWN", "must be positive")
	}
	switch c.ValueFormat {
	case ValueFormatJSON:
	case ValueFormatAvro:
		if strings.TrimSpace(c.SchemaRegistryURL) == "" {
			bad("SINK_SALESFORCE_SCHEMA_REGISTRY_URL", "required when SINK_SALESFORCE_VALUE_FORMAT=avro")
		}
	default:
		bad("SINK_SALESFORCE_VALUE_FORMAT", "must be json or avro, got %q", c.ValueFormat)
	}
	errs = append(errs, c.registry().Validate(connectorlib.EnvPrefix+"_SINK_SALESFORCE_SCHEMA_REGISTRY")...)
	return errors.Join(errs...)
}

// registry returns the Schema Registry settings.
func (c Config) registry() schemaregistry.Settings {
	return schemaregistry.Settings{URLs: c.SchemaRegistryURL, Username: c.SchemaRegistryUsername, Password: c.SchemaRegistryPassword}
}

func validPolicy(p string) bool {
	switch p {
	case PolicyLastWriterWins, PolicySalesforceWins, PolicyWebAppWins, PolicyFieldMerge:
		return true
	}
	return false
}

// policy returns the conflict policy of an sObject.
func (c Config) policy(object string) string {
	for _, entry := range c.ConflictPolicies {
		if obj, pol, ok := strings.Cut(entry, "="); ok && strings.TrimSpace(obj) == object {
			return strings.TrimSpace(pol)
		}
	}
	return c.ConflictPolicy
}

// ConflictsTopicOf returns the conflicts topic of connector name:
// SINK_SALESFORCE_CONFLICTS_TOPIC or sfconnect.conflicts.<name>.
func (c Config) ConflictsTopicOf(name string) string {
	if c.ConflictsTopic != "" {
		return c.ConflictsTopic
	}
	return "sfconnect.conflicts." + name
}

// mapping builds the web-app to Salesforce mapping from Objects and
// Fields.
func (c Config) mapping() (*mapping, error) {
	p := connectorlib.EnvPrefix + "_"
	m := &mapping{objects: map[string]string{}, fields: map[string]map[string]string{}, extIDs: map[string]string{}}
	for _, entry := range c.Objects {
		typ, obj, found := strings.Cut(entry, "=")
		if !found { // a bare name maps to itself
			obj = typ
		}
		typ, obj = strings.TrimSpace(typ), strings.TrimSpace(obj)
		if typ == "" || !sobjectName.MatchString(obj) {
			return nil, fmt.Errorf("%sSINK_SALESFORCE_OBJECTS: %q=%q is not <web-app type>=<sObject>", p, typ, obj)
		}
		m.objects[typ] = obj
		m.fields[typ] = map[string]string{}
	}
	for _, entry := range c.Fields {
		left, sf, ok := strings.Cut(strings.TrimSpace(entry), "=")
		typ, field, ok2 := strings.Cut(left, ".")
		if !ok || !ok2 || typ == "" || field == "" || !sobjectName.MatchString(sf) {
			return nil, fmt.Errorf("%sSINK_SALESFORCE_FIELDS: %q is not <web-app type>.<field>=<Salesforce field>", p, entry)
		}
		fs, known := m.fields[typ]
		if !known {
			return nil, fmt.Errorf("%sSINK_SALESFORCE_FIELDS: %q names type %q, which SINK_SALESFORCE_OBJECTS does not map", p, entry, typ)
		}
		if strings.EqualFold(sf, "Id") {
			return nil, fmt.Errorf("%sSINK_SALESFORCE_FIELDS: %q maps to Id; put the Id in record_id", p, entry)
		}
		fs[field] = sf
	}
	for _, entry := range c.ExternalIDs {
		obj, ext, _ := strings.Cut(entry, "=")
		obj, ext = strings.TrimSpace(obj), strings.TrimSpace(ext)
		if !sobjectName.MatchString(obj) || !sobjectName.MatchString(ext) {
			return nil, fmt.Errorf("%sSINK_SALESFORCE_EXTERNAL_IDS: %q is not <sObject>=<field>", p, entry)
		}
		m.extIDs[obj] = ext
	}
	return m, nil
}

// sobjectName is what sObject and field API names look like (letters,
// digits, underscores; custom ones end in __c, events in __e).
var sobjectName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]*$`)
