package cosmos

import (
	"os"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	stopSharedServer()
	os.Exit(code)
}
