//go:build race

package deploy_test

// raceEnabled: the binary under test is built with -race like this test,
// so that both share the build cache of `go test -race ./...`.
const raceEnabled = true
