// Command sfconnect runs sfconnect's connectors, its Salesforce simulator
// and its local development stack. Each subcommand loads its configuration
// from SFCONNECT_* environment variables (flags for sim and dev), builds one
// connector and hands it to the connectorlib runtime.
//
// Exit codes: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime error,
// 2 on bad configuration or usage, 3 when another copy of the same
// connector took over (fenced).
package main

import (
	"fmt"
	"io"
	"os"
	"strings"
)

// Exit codes.
const (
	exitOK     = 0
	exitError  = 1
	exitConfig = 2
	exitFenced = 3
)

// command is one subcommand.
type command struct {
	path  string // e.g. "sink cosmos"
	short string
	run   func(args []string, stdout, stderr io.Writer) int
}

func commands() []command {
	return []command{
		{"source", "stream Salesforce CDC, platform events and PushTopics into Kafka", runSource},
		{"source http", "receive Apex callouts and Outbound Messages into Kafka", runSourceHTTP},
		{"sink cosmos", "apply Salesforce change topics to an Azure Cosmos DB container", runSinkCosmos},
		{"sink salesforce", "write web-application changes back into Salesforce", runSinkSalesforce},
		{"sim", "run sfsim, the local Salesforce simulator", runSim},
		{"dev", "run a local development stack in one process", runDev},
		{"env", "list every configuration variable (markdown)", runEnv},
		{"version", "print the version", runVersion},
	}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches to the longest matching subcommand path.
func run(args []string, stdout, stderr io.Writer) int {
	var best *command
	bestLen := 0
	for _, c := range commands() {
		words := strings.Fields(c.path)
		if len(words) <= len(args) && len(words) > bestLen && equalWords(words, args[:len(words)]) {
			c := c
			best, bestLen = &c, len(words)
		}
	}
	if best == nil {
		usage(stderr)
		if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
			return exitOK
		}
		fmt.Fprintf(stderr, "\nsfconnect: unknown command %q\n", strings.Join(args, " "))
		return exitConfig
	}
	return best.run(args[bestLen:], stdout, stderr)
}

func equalWords(a, b []string) bool {
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func usage(w io.Writer) {
	fmt.Fprintln(w, "usage: sfconnect <command>")
	fmt.Fprintln(w)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-16s %s\n", c.path, c.short)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "Connectors are configured with SFCONNECT_* environment variables; `sfconnect env` lists them.")
}
