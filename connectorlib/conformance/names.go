package conformance

import (
	"crypto/rand"
	"fmt"
	"hash/fnv"
	"strings"
	"testing"
)

// maxNameLen bounds UniqueName: 63 characters fit a DNS label, a Kafka
// topic, a Cosmos DB container id and a Salesforce API name prefix.
const maxNameLen = 63

// runID tells this test process's names from those of earlier runs against
// a peer that outlives the process (cosmosdb-server, a real broker).
var runID = func() string {
	b := make([]byte, 3)
	_, _ = rand.Read(b) // crypto/rand.Read never returns an error
	return fmt.Sprintf("%x", b)
}()

// UniqueName returns a name for t's own upstream or target: a topic,
// container or channel that no other test, and no earlier run of this
// test, uses. It is stable across calls with the same t, contains only
// lowercase letters, digits and '-', and is at most 63 characters long:
// the test name, shortened if need be, a hash of the exact test name and
// an id of this test process.
func UniqueName(t testing.TB) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(t.Name()) {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
			dash = false
		} else if !dash && b.Len() > 0 {
			b.WriteByte('-')
			dash = true
		}
	}
	base := strings.TrimSuffix(b.String(), "-")
	// The hash of the exact name keeps names apart that only differ in
	// characters dropped above ("a_1" and "a-1").
	h := fnv.New32a()
	_, _ = h.Write([]byte(t.Name())) // hash.Hash.Write never returns an error
	suffix := fmt.Sprintf("-%08x-%s", h.Sum32(), runID)
	if len(base)+len(suffix) > maxNameLen {
		base = strings.TrimSuffix(base[:maxNameLen-len(suffix)], "-")
	}
	return base + suffix
}
