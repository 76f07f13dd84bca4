package connectorlib

import (
	"os"
	"testing"

	"go.uber.org/goleak"
)

// envChild selects a child-process role: the kill tests re-run this test
// binary as the process they SIGKILL.
const envChild = "CONNECTORLIB_TEST_CHILD"

func TestMain(m *testing.M) {
	if role := os.Getenv(envChild); role != "" {
		os.Exit(runChild(role))
	}
	goleak.VerifyTestMain(m)
}
