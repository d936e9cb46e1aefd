package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencyDirection keeps the layering: store and web are leaves,
// server and jobs never import each other, nothing imports main.
func TestDependencyDirection(t *testing.T) {
	const mod = "github.com/pforte/pforte"
	out, err := exec.Command("go", "list", "-tags", "sqlite_fts5", "-f", "{{.ImportPath}}:{{join .Imports \" \"}}", "./...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	forbidden := map[string][]string{
		mod + "/store": {mod + "/"},
		mod + "/web":   {mod + "/"},
		mod + "/jobs":  {mod + "/server", mod + "/web"},
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		pkg, imports, _ := strings.Cut(line, ":")
		for _, imp := range strings.Fields(imports) {
			if imp == mod {
				t.Errorf("%s imports package main", pkg)
			}
			for prefix, bad := range forbidden {
				if pkg != prefix && !strings.HasPrefix(pkg, prefix+"/") {
					continue
				}
				for _, b := range bad {
					if strings.HasPrefix(imp, b) && !strings.HasPrefix(imp, prefix) {
						t.Errorf("%s imports %s", pkg, imp)
					}
				}
			}
			if strings.HasPrefix(pkg, mod+"/server") && strings.HasPrefix(imp, mod+"/jobs") {
				t.Errorf("%s imports %s", pkg, imp)
			}
		}
	}
}
