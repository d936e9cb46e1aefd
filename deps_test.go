package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

const mod = "github.com/pforte/pforte"

// allowed says which of the project's packages each package may import.
// A package not listed may import none. The shape, from the bottom up:
//
//   - store, web, cloudapi and tlsmgr are leaves: SQLite, templates,
//     Meta's wire format and certificates know nothing of the rest.
//   - jobs and the workers (outbox, mediafetch, fanout, privacy) build on
//     store and cloudapi only; the simulator speaks cloudapi only.
//   - the two HTTP faces, gateway (machines) and panel (people), use the
//     workers but never each other.
//   - cli alone wires everything together; testenv does the same for tests.
var allowed = map[string][]string{
	"store":              {},
	"web":                {},
	"server/cloudapi":    {},
	"server/tlsmgr":      {},
	"jobs":               {"store"},
	"server/outbox":      {"store", "server/cloudapi"},
	"server/mediafetch":  {"store", "server/cloudapi"},
	"server/fanout":      {"store", "server/cloudapi"},
	"server/privacy":     {"store", "server/cloudapi"},
	"server/simulator":   {"server/cloudapi"},
	"server/campaign":    {"store", "server/cloudapi", "server/outbox", "server/addressbook"},
	"server/health":      {"store", "server/cloudapi"},
	"server/automation":  {"store", "server/cloudapi", "server/outbox"},
	"server/templates":   {"store", "server/cloudapi"},
	"server/addressbook": {"store"},
	"server/gateway": {"store", "web", "jobs", "server/cloudapi", "server/tlsmgr", "server/outbox", "server/privacy", "server/campaign",
		"server/automation", "server/templates", "server/addressbook"},
	"server/panel": {"store", "web", "jobs", "server/cloudapi", "server/tlsmgr", "server/outbox", "server/privacy", "server/campaign",
		"server/health", "server/panel/sso", "server/automation", "server/templates", "server/addressbook"},
	"server/testenv": {"store", "server/cloudapi", "server/gateway", "server/panel", "server/outbox", "server/mediafetch",
		"server/simulator", "server/campaign", "server/health", "server/automation", "server/templates"},
	"cli": {"store", "jobs", "server/cloudapi", "server/tlsmgr", "server/gateway", "server/panel", "server/outbox",
		"server/mediafetch", "server/fanout", "server/privacy", "server/simulator", "server/campaign", "server/health",
		"server/replica", "server/automation", "server/templates"},
	"": {"cli"}, // main only hands over

	// Litestream and the bucket; knows the data directory only by the layout cli hands it.
	"server/replica": {},
	// The panel's OpenID Connect client knows nothing of the project.
	"server/panel/sso": {},
	// A real SFTP server for the replica tests; knows nothing of the project.
	"server/testenv/sftptest":    {},
	"server/testenv/browsertest": {},
}

// TestDependencyDirection keeps the layering above: every import of a
// project package by a project package must be listed.
func TestDependencyDirection(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "sqlite_fts5", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		rel := strings.TrimPrefix(strings.TrimPrefix(pkg, mod), "/")
		may, ok := allowed[rel]
		if !ok {
			t.Errorf("%s is not in the dependency table of deps_test.go; add it with what it may import", pkg)
			continue
		}
		seen++
		for _, imp := range strings.Fields(imports) {
			if imp != mod && !strings.HasPrefix(imp, mod+"/") {
				continue
			}
			if !slices.Contains(may, strings.TrimPrefix(strings.TrimPrefix(imp, mod), "/")) {
				t.Errorf("%s imports %s, which the layering does not allow", pkg, imp)
			}
		}
	}
	if seen < 10 {
		t.Fatalf("only %d packages checked; go list output changed?", seen)
	}
}
