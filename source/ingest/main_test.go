package ingest

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// envChild selects the child-process role: the crash test re-runs this
// test binary as the ingest process it kills.
const envChild = "INGEST_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(envChild) != "" {
		os.Exit(runChild())
	}
	goleak.VerifyTestMain(m)
}
