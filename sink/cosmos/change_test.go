package cosmos

import (
	"strings"
	"testing"

	"github.com/sfconnect/sfconnect/connectorlib"
)

func TestVersion_Less(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		a, b version
		want bool
	}{
		{"earlier commit time", version{TS: 1, CN: 9}, version{TS: 2, CN: 1}, true},
		{"same millisecond, later commit number", version{TS: 1, CN: 1}, version{TS: 1, CN: 2}, true},
		{"same transaction, later sequence", version{TS: 1, CN: 1, Seq: 1}, version{TS: 1, CN: 1, Seq: 2}, true},
		{"a full state ranks above a delta at the same position", version{TS: 1}, version{TS: 1, Full: true}, true},
		{"equal is not less (a duplicate)", version{TS: 1, CN: 1}, version{TS: 1, CN: 1}, false},
		{"later is not less", version{TS: 2}, version{TS: 1, CN: 5, Full: true}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.a.less(tt.b); got != tt.want {
				t.Errorf("%+v.less(%+v) = %v; want %v", tt.a, tt.b, got, tt.want)
			}
		})
	}
}

func TestSink_DecodeChange(t *testing.T) {
	t.Parallel()
	s := &Sink{cfg: defaultConfig()}
	rec := func(key string, value []byte) *connectorlib.Record {
		return &connectorlib.Record{Topic: "t", Partition: 1, Offset: 7, Key: []byte(key), Value: value}
	}
	tests := []struct {
		name     string
		r        *connectorlib.Record
		template string
		wantCode string // "" : decodes
		check    func(t *testing.T, c *change)
	}{
		{name: "update", r: rec("001A", ev{ct: "UPDATE", id: "001A", ts: 5, cn: 6, seq: 2, fields: map[string]any{"Name": "x"}, nulled: []string{"Phone"}}.value()),
			check: func(t *testing.T, c *change) {
				if c.op != opMerge || !c.versioned || c.ver != (version{TS: 5, CN: 6, Seq: 2}) || c.docID != "001A" || c.source != "t/1@7" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "snapshot versioned by SystemModstamp", r: rec("001A", ev{kind: kindSnapshot, ct: "SNAPSHOT", id: "001A", fields: map[string]any{"SystemModstamp": "2026-11-23T10:00:00.000+0000"}}.value()),
			check: func(t *testing.T, c *change) {
				if c.op != opReplace || !c.versioned || !c.ver.Full || c.ver.TS != 1795428000000 {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "snapshot without modstamp is unversioned", r: rec("001A", ev{kind: kindResync, ct: "SNAPSHOT", id: "001A"}.value()),
			check: func(t *testing.T, c *change) {
				if c.versioned {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "the key names the record", r: rec("001B", ev{ct: "CREATE", id: "001A", ts: 1}.value()),
			check: func(t *testing.T, c *change) {
				if c.docID != "001B" {
					t.Errorf("docID %q", c.docID)
				}
			}},
		{name: "id template", template: "{entity}-{id}", r: rec("001A", ev{ct: "CREATE", id: "001A", ts: 1}.value()),
			check: func(t *testing.T, c *change) {
				if c.docID != "Account-001A" {
					t.Errorf("docID %q", c.docID)
				}
			}},
		{name: "tombstone", template: "{entity}-{id}", r: &connectorlib.Record{Key: []byte("001A"), Headers: []connectorlib.Header{{Key: headerEntity, Value: []byte("Account")}}},
			check: func(t *testing.T, c *change) {
				if c.op != opDelete || c.versioned || c.docID != "Account-001A" {
					t.Errorf("got %+v", c)
				}
			}},
		{name: "tombstone without entity for an entity template", template: "{entity}-{id}", r: &connectorlib.Record{Key: []byte("001A")}, wantCode: codeInvalid},
		{name: "tombstone without key", r: &connectorlib.Record{}, wantCode: codeInvalid},
		{name: "invalid JSON", r: rec("k", []byte(`{"kind":`)), wantCode: codeDecode},
		{name: "trailing data", r: rec("k", []byte(`{"envelope_version":1} {}`)), wantCode: codeDecode},
		{name: "avro wire format", r: rec("k", []byte{0, 0, 0, 0, 1, 2}), wantCode: codeDecode},
		{name: "other envelope version", r: rec("k", []byte(`{"envelope_version":2,"kind":"CHANGE","change_type":"CREATE"}`)), wantCode: codeDecode},
		{name: "unknown change type", r: rec("k", ev{ct: "MERGE", id: "k", ts: 1}.value()), wantCode: codeChangeType},
		{name: "unknown kind", r: rec("k", ev{kind: "AUDIT", ct: "CREATE", id: "k", ts: 1}.value()), wantCode: codeChangeType},
		{name: "gap event the source did not repair", r: rec("k", ev{ct: "GAP_UPDATE", id: "k", ts: 1}.value()), wantCode: codeGap},
		{name: "reserved field", r: rec("k", ev{ct: "CREATE", id: "k", ts: 1, fields: map[string]any{"_rid": "x"}}.value()), wantCode: codeInvalid},
		{name: "forbidden id character", r: rec("a/b", ev{ct: "CREATE", id: "a/b", ts: 1}.value()), wantCode: codeInvalid},
		{name: "no key and no record id", r: rec("", ev{kind: kindPlatformEvent, ct: "PUBLISH"}.value()), wantCode: codeInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := &Sink{cfg: s.cfg}
			if tt.template != "" {
				s.cfg.IDTemplate = tt.template
			}
			c, err := s.decodeChange(t.Context(), 0, tt.r)
			if tt.wantCode != "" {
				if err == nil || connectorlib.IsRetryable(err) || connectorlib.Code(err) != tt.wantCode {
					t.Fatalf("err = %v (code %q); want a permanent %s", err, connectorlib.Code(err), tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("decode: %v", err)
			}
			tt.check(t, c)
		})
	}
}

func TestConfig_Validate(t *testing.T) {
	t.Parallel()
	ok := defaultConfig()
	ok.Endpoint, ok.Database, ok.Container = "https://a.documents.azure.com:443/", "db", "c"
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid config: %v", err)
	}
	tests := []struct {
		name   string
		mutate func(*Config)
		want   string
	}{
		{"endpoint without scheme", func(c *Config) { c.Endpoint = "a.documents.azure.com" }, "COSMOS_ENDPOINT"},
		{"nested partition key", func(c *Config) { c.PartitionKey = "/a/b" }, "COSMOS_PARTITION_KEY_PATH"},
		{"template without id", func(c *Config) { c.IDTemplate = "{entity}" }, "COSMOS_ID_TEMPLATE"},
		{"template with unknown placeholder", func(c *Config) { c.IDTemplate = "{id}-{org}" }, "COSMOS_ID_TEMPLATE"},
		{"fractional tombstone ttl", func(c *Config) { c.DeleteMode, c.TombstoneTTL = DeleteSoft, 1500e6 }, "COSMOS_TOMBSTONE_TTL"},
		{"insecure and a CA", func(c *Config) { c.InsecureSkipVerify, c.CAFile = true, "/ca.pem" }, "COSMOS_INSECURE_SKIP_TLS_VERIFY"},
		{"throughput below the minimum", func(c *Config) { c.Throughput = 100 }, "COSMOS_THROUGHPUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := ok
			tt.mutate(&c)
			err := c.Validate()
			if err == nil || !strings.Contains(err.Error(), "SFCONNECT_"+tt.want) {
				t.Errorf("Validate = %v; want a problem naming SFCONNECT_%s", err, tt.want)
			}
		})
	}
}
