// Command pforte is a self-hosted gateway for the WhatsApp Business Cloud
// API: it terminates Meta's webhooks on the company's own server, keeps
// every message in SQLite, and lets agents and internal systems answer.
// The commands live in package cli; this file only hands over.
package main

import (
	"os"

	"github.com/pforte/pforte/cli"
)

func main() { os.Exit(cli.Main(os.Args[1:])) }
