package ingest

import "testing"

func TestConfig_AcceptsObject(t *testing.T) {
	t.Parallel()
	all := Config{Objects: []string{"*"}}
	some := Config{Objects: []string{"Account", "Invoice__c"}}
	for _, tc := range []struct {
		cfg    Config
		object string
		want   bool
	}{
		{all, "Lead", true}, {all, "Invoice__c", true}, {all, "../x", false}, {all, "a b", false}, {all, "", false},
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
