package conformance

import (
	"testing"

	"go.uber.org/goleak"
)

// checkLeaks registers the goroutine leak check of a subtest. It must be the
// first t.Cleanup the subtest registers so that it runs last, after the
// suite has closed what it opened and after the driver's cleanups.
func checkLeaks(t *testing.T, driver any) {
	t.Helper()
	// Goroutines alive now belong to the caller, the driver's shared
	// fixtures or an earlier subtest (which reported its own leaks).
	opts := []goleak.Option{goleak.IgnoreCurrent()}
	if lo, ok := driver.(LeakOptioner); ok {
		opts = append(opts, lo.LeakOptions()...)
	}
	t.Cleanup(func() { goleak.VerifyNone(t, opts...) })
}

// subtest runs f as the subtest name of t with a leak check.
func subtest(t *testing.T, name string, driver any, f func(t *testing.T)) {
	t.Helper()
	t.Run(name, func(t *testing.T) {
		checkLeaks(t, driver)
		f(t)
	})
}
