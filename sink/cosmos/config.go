package cosmos

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/sfconnect/sfconnect/connectorlib"
	"github.com/sfconnect/sfconnect/connectorlib/schemaregistry"
)

// Write strategies, named after the Azure Cosmos DB Kafka connector's.
const (
	// StrategyOverwrite applies CDC semantics and replaces the document
	// with the state built from it (fields the sink does not know are
	// dropped on CREATE, UNDELETE and full-state records).
	StrategyOverwrite = "overwrite"
	// StrategyAppend creates documents and ignores conflicts: the first
	// record of an id wins; later ones are skipped.
	StrategyAppend = "append"
	// StrategyDelete deletes the document of every record.
	StrategyDelete = "delete"
	// StrategyOverwriteIfNotModified is StrategyOverwrite, except that a
	// document changed by another writer between the sink's read and its
	// write is left alone (the change is skipped) instead of re-read.
	StrategyOverwriteIfNotModified = "overwrite_if_not_modified"
	// StrategyPatch applies CDC semantics but merges into the document:
	// fields the sink does not own (added by the application) survive. An
	// UPDATE of a document the sink has not cached is one conditional
	// patch (the version guard as its condition) instead of a read and a
	// replace.
	StrategyPatch = "patch"
)

// Delete modes.
const (
	// DeleteHard removes the document.
	DeleteHard = "hard"
	// DeleteSoft keeps a tombstone document (sfconnect.deleted = true,
	// Salesforce fields removed) that holds the delete's version.
	DeleteSoft = "soft"
)

// Config configures the Cosmos DB sink. Field tags name the environment
// variables (with the SFCONNECT_ prefix) that connectorlib.LoadEnv reads.
type Config struct {
	Endpoint        string `envconfig:"COSMOS_ENDPOINT" required:"true" desc:"Account endpoint, https://<account>.documents.azure.com:443/."`
	Key             string `envconfig:"COSMOS_KEY" secret:"true" desc:"Account key. Empty: Entra ID through DefaultAzureCredential (workload identity, managed identity, AZURE_* variables, Azure CLI)."`
	Database        string `envconfig:"COSMOS_DATABASE" required:"true" desc:"Database name."`
	Container       string `envconfig:"COSMOS_CONTAINER" required:"true" desc:"Container name."`
	CreateIfMissing bool   `envconfig:"COSMOS_CREATE_IF_MISSING" default:"false" desc:"Create the database and container at start when missing (needs a key or an Entra role that may create them)."`
	PartitionKey    string `envconfig:"COSMOS_PARTITION_KEY_PATH" default:"/id" desc:"The container's partition key path, one top-level property (/id, /sobject, /AccountId); the value is taken from each document."`
	Throughput      int32  `envconfig:"COSMOS_THROUGHPUT" default:"0" desc:"Manual RU/s for a container created here; 0: none set (serverless, or the database's shared throughput)."`

	WriteStrategy string        `envconfig:"COSMOS_WRITE_STRATEGY" default:"overwrite" desc:"overwrite (upsert with CDC semantics), append (create; existing documents are left alone), delete (every record deletes its document), overwrite_if_not_modified (skip a change whose document another writer changed meanwhile), patch (merge; fields the sink does not own survive; UPDATEs of uncached documents as one conditional Cosmos patch)."`
	IDTemplate    string        `envconfig:"COSMOS_ID_TEMPLATE" default:"{id}" desc:"Document id built from {id} (the record Id, or the Kafka key), {entity} (the sObject) and {topic}, e.g. {entity}-{id}."`
	DeleteMode    string        `envconfig:"COSMOS_DELETE_MODE" default:"hard" desc:"hard: delete the document; soft: keep a tombstone document with sfconnect.deleted=true, so a late older change can never bring the record back."`
	TombstoneTTL  time.Duration `envconfig:"COSMOS_TOMBSTONE_TTL" default:"0s" desc:"soft delete mode: Cosmos time to live of tombstone documents (whole seconds; needs TTL enabled on the container, which COSMOS_CREATE_IF_MISSING does). 0: kept forever. Keep it longer than the topics' retention."`

	DocumentCache    int           `envconfig:"COSMOS_DOCUMENT_CACHE" default:"10000" desc:"Documents whose last written state and ETag the sink remembers, so that the next change to one needs no read; the write stays conditional on the ETag, and a document changed elsewhere is re-read. 0: read before every write."`
	Concurrency      int           `envconfig:"COSMOS_CONCURRENCY" default:"16" desc:"Documents written concurrently within one batch; the changes of one document are always applied in order."`
	RequestTimeout   time.Duration `envconfig:"COSMOS_REQUEST_TIMEOUT" default:"10s" desc:"Bound on one Cosmos request; a timed-out request is retried."`
	RetryMaxAttempts int           `envconfig:"COSMOS_RETRY_MAX_ATTEMPTS" default:"8" desc:"Attempts per request for 408, 449, 5xx and timeouts before the record goes back to the runtime's retry budget."`
	RetryInitial     time.Duration `envconfig:"COSMOS_RETRY_INITIAL" default:"100ms" desc:"First backoff delay for 408, 449, 5xx and timeouts; doubles per attempt, with jitter."`
	ThrottleMaxWait  time.Duration `envconfig:"COSMOS_THROTTLE_MAX_WAIT" default:"2m" desc:"How long one request may wait on 429s (each wait as long as x-ms-retry-after-ms asks) before it is handed to the runtime's retry (which waits again, without dead-lettering early)."`

	SchemaRegistryURL      string `envconfig:"COSMOS_SCHEMA_REGISTRY_URL" desc:"Schema Registry URL (comma-separated for several), for values the source wrote as Avro (SOURCE_VALUE_FORMAT=avro); JSON values need none."`
	SchemaRegistryUsername string `envconfig:"COSMOS_SCHEMA_REGISTRY_USERNAME" desc:"Schema Registry basic-auth username (API key), if the registry needs one."`
	SchemaRegistryPassword string `envconfig:"COSMOS_SCHEMA_REGISTRY_PASSWORD" secret:"true" desc:"Schema Registry basic-auth password (API secret)."`

	CAFile             string `envconfig:"COSMOS_CA_FILE" desc:"PEM file of CA certificates trusted in addition to the system roots, for a local emulator's certificate. TLS verification stays on."`
	InsecureSkipVerify bool   `envconfig:"COSMOS_INSECURE_SKIP_TLS_VERIFY" default:"false" desc:"Do not verify the server's TLS certificate. For a throwaway local emulator only; prefer COSMOS_CA_FILE."`
}

// Validate implements connectorlib.Validator.
func (c Config) Validate() error {
	p := connectorlib.EnvPrefix + "_"
	var errs []error
	if u, err := url.Parse(c.Endpoint); c.Endpoint == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http") {
		errs = append(errs, fmt.Errorf("%sCOSMOS_ENDPOINT: must be an https:// URL, got %q", p, c.Endpoint))
	}
	if _, err := base64.StdEncoding.DecodeString(c.Key); err != nil {
		// Never echo the key, not even a part of it.
		errs = append(errs, fmt.Errorf("%sCOSMOS_KEY: not a valid account key (base64)", p))
	}
	if c.Database == "" {
		errs = append(errs, fmt.Errorf("%sCOSMOS_DATABASE: must not be empty", p))
	}
	if c.Container == "" {
		errs = append(errs, fmt.Errorf("%sCOSMOS_CONTAINER: must not be empty", p))
	}
	if _, err := pkProperty(c.PartitionKey); err != nil {
		errs = append(errs, fmt.Errorf("%sCOSMOS_PARTITION_KEY_PATH: %w", p, err))
	}
	if c.Throughput < 0 || (c.Throughput > 0 && c.Throughput < 400) {
		errs = append(errs, fmt.Errorf("%sCOSMOS_THROUGHPUT: must be 0 or at least 400 RU/s", p))
	}
	switch c.WriteStrategy {
	case StrategyOverwrite, StrategyAppend, StrategyDelete, StrategyOverwriteIfNotModified, StrategyPatch:
	default:
		errs = append(errs, fmt.Errorf("%sCOSMOS_WRITE_STRATEGY: must be overwrite, append, delete, overwrite_if_not_modified or patch, got %q", p, c.WriteStrategy))
	}
	if err := checkIDTemplate(c.IDTemplate); err != nil {
		errs = append(errs, fmt.Errorf("%sCOSMOS_ID_TEMPLATE: %w", p, err))
	}
	if c.DeleteMode != DeleteHard && c.DeleteMode != DeleteSoft {
		errs = append(errs, fmt.Errorf("%sCOSMOS_DELETE_MODE: must be hard or soft, got %q", p, c.DeleteMode))
	}
	if c.TombstoneTTL < 0 || c.TombstoneTTL%time.Second != 0 {
		errs = append(errs, fmt.Errorf("%sCOSMOS_TOMBSTONE_TTL: must be whole seconds, not negative", p))
	}
	if c.TombstoneTTL > 0 && c.DeleteMode != DeleteSoft {
		errs = append(errs, fmt.Errorf("%sCOSMOS_TOMBSTONE_TTL: only applies with %sCOSMOS_DELETE_MODE=soft", p, p))
	}
	if c.DocumentCache < 0 {
		errs = append(errs, fmt.Errorf("%sCOSMOS_DOCUMENT_CACHE: must not be negative", p))
	}
	if c.Concurrency < 1 {
		errs = append(errs, fmt.Errorf("%sCOSMOS_CONCURRENCY: must be at least 1", p))
	}
	if c.RequestTimeout <= 0 {
		errs = append(errs, fmt.Errorf("%sCOSMOS_REQUEST_TIMEOUT: must be positive", p))
	}
	if c.RetryMaxAttempts < 1 {
		errs = append(errs, fmt.Errorf("%sCOSMOS_RETRY_MAX_ATTEMPTS: must be at least 1", p))
	}
	if c.RetryInitial <= 0 {
		errs = append(errs, fmt.Errorf("%sCOSMOS_RETRY_INITIAL: must be positive", p))
	}
	if c.ThrottleMaxWait < 0 {
		errs = append(errs, fmt.Errorf("%sCOSMOS_THROTTLE_MAX_WAIT: must not be negative", p))
	}
	if c.InsecureSkipVerify && c.CAFile != "" {
		errs = append(errs, fmt.Errorf("%sCOSMOS_INSECURE_SKIP_TLS_VERIFY: set either it or %sCOSMOS_CA_FILE, not both", p, p))
	}
	errs = append(errs, c.registry().Validate(p+"COSMOS_SCHEMA_REGISTRY")...)
	return errors.Join(errs...)
}

// registry returns the Schema Registry settings (no URL: JSON values only).
func (c Config) registry() schemaregistry.Settings {
	return schemaregistry.Settings{URLs: c.SchemaRegistryURL, Username: c.SchemaRegistryUsername, Password: c.SchemaRegistryPassword}
}

// pkProperty returns the top-level property a partition key path names.
func pkProperty(path string) (string, error) {
	prop, ok := strings.CutPrefix(path, "/")
	if !ok || prop == "" || strings.ContainsAny(prop, "/\"'[]") {
		return "", fmt.Errorf("must be one top-level property such as /id or /sobject, got %q", path)
	}
	return prop, nil
}

// checkIDTemplate accepts templates using only the known placeholders and
// naming the record (an id built without {id} would put every record of an
// entity in one document).
func checkIDTemplate(tmpl string) error {
	if !strings.Contains(tmpl, "{id}") {
		return fmt.Errorf("must contain {id}, got %q", tmpl)
	}
	rest := strings.NewReplacer("{id}", "", "{entity}", "", "{topic}", "").Replace(tmpl)
	if strings.ContainsAny(rest, "{}") {
		return fmt.Errorf("unknown placeholder in %q (known: {id}, {entity}, {topic})", tmpl)
	}
	// Cosmos DB forbids these in ids.
	if strings.ContainsAny(rest, `/\?#`) {
		return fmt.Errorf("%q contains a character Cosmos DB ids may not hold (/ \\ ? #)", tmpl)
	}
	return nil
}
