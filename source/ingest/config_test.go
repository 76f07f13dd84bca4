package ingest

import "testing"

func TestConfig_AcceptsObject(t *testing.T) {
	t.Parallel()
	any := Config{Objects: []string{"*"}}
	some := Config{Objects: []string{"Account", "Invoice__c"}}
	for _, tc := range []struct {
		cfg    Config
		object string
		want   bool
	}{
		{any, "Lead", true}, {any, "Invoice__c", true}, {any, "../x", false}, {any, "a b", false}, {any, "", false},
		{some, "Account", true}, {some, "Invoice__c", true}, {some, "Lead", false},
	} {
		if got := tc.cfg.acceptsObject(tc.object); got != tc.want {
			t.Errorf("%v accepts %q = %v, want %v", tc.cfg.Objects, tc.object, got, tc.want)
		}
	}
}

func TestConfig_Validate_Valid(t *testing.T) {
	t.Parallel()
	if err := testConfig("t").Validate(); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig("t")
	cfg.Endpoints = []string{EndpointWebhook}
	cfg.OrganizationID = "" // only needed for Outbound Messages
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
}
