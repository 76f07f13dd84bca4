package conformance_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/sfconnect/sfconnect/connectorlib/conformance"
)

func TestUniqueName(t *testing.T) {
	valid := regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)
	seen := map[string]string{}
	for _, name := range []string{
		"Open_ResumeAfterPartialAck",
		"Configure_MissingRequired/topic",
		"Configure_MissingRequired/topic#01",
		"Configure_MissingRequired/topic_01",
		strings.Repeat("Very_Long_Subtest_Name/", 8) + "a",
		strings.Repeat("Very_Long_Subtest_Name/", 8) + "b",
	} {
		t.Run(name, func(t *testing.T) {
			got := conformance.UniqueName(t)
			if again := conformance.UniqueName(t); again != got {
				t.Errorf("UniqueName is not stable: %q, then %q", got, again)
			}
			if len(got) > 63 || !valid.MatchString(got) {
				t.Errorf("UniqueName = %q: want at most 63 lowercase letters, digits and single dashes", got)
			}
			if other, dup := seen[got]; dup {
				t.Errorf("UniqueName(%q) = UniqueName(%q) = %q", t.Name(), other, got)
			}
			seen[got] = t.Name()
		})
	}
}
