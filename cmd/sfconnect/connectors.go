package main

import (
	"io"

	"github.com/sfconnect/sfconnect/connectorlib"
)

func runSinkSalesforce(_ []string, _, stderr io.Writer) int {
	var runner connectorlib.SinkConfig
	if _, code := loadProcess(stderr, &runner); code != exitOK {
		return code
	}
	return notAvailable(stderr, "the Salesforce sink")
}
