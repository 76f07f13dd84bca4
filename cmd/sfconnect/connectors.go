package main

import (
	"io"

	"github.com/sfconnect/sfconnect/connectorlib"
)

func runSourceHTTP(_ []string, _, stderr io.Writer) int {
	var runner connectorlib.SourceConfig
	if _, code := loadProcess(stderr, &runner); code != exitOK {
		return code
	}
	return notAvailable(stderr, "the HTTP ingest source")
}
