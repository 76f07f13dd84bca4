package conformance

import (
	"strings"
	"testing"
)

// runConfigCases is Configure_MissingRequired for sources and sinks: every
// case must fail with an error naming the missing key.
func runConfigCases(t *testing.T, driver any, cases []ConfigCase) {
	t.Helper()
	if len(cases) == 0 {
		t.Skip("driver declares no required configuration (Configs returned no cases)")
	}
	seen := map[string]bool{}
	for _, c := range cases {
		if seen[c.Name] {
			t.Errorf("driver: duplicate ConfigCase name %q", c.Name)
		}
		seen[c.Name] = true
		subtest(t, c.Name, driver, func(t *testing.T) {
			if c.Build == nil || c.WantErr == "" {
				t.Fatalf("driver: ConfigCase %q needs Build and WantErr (the key the error must name)", c.Name)
			}
			// Build runs on the test goroutine so that it may call t.Fatal;
			// building from a configuration does not block.
			err := c.Build(t)
			switch {
			case err == nil:
				t.Errorf("config case %q was accepted; want an error naming %q", c.Name, c.WantErr)
			case !strings.Contains(err.Error(), c.WantErr):
				t.Errorf("config case %q: error %q does not name %q", c.Name, err, c.WantErr)
			}
		})
	}
}
