package main

import (
	"fmt"
	"io"
	"runtime/debug"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func runVersion(_ []string, stdout, _ io.Writer) int {
	rev := ""
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				rev = " (" + s.Value + ")"
			}
		}
	}
	fmt.Fprintf(stdout, "sfconnect %s%s\n", version, rev)
	return exitOK
}
