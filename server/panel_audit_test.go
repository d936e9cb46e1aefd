package server_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// TestAuditActionsAreDeclared finds every audit action written anywhere in
// the code, as a literal or a store.Audit* constant, and checks it belongs
// to the vocabulary and has words in German and English.
func TestAuditActionsAreDeclared(t *testing.T) {
	literal := regexp.MustCompile(`(?:Action:\s*|store_audit\([^,]+, r, |action :?= )"([^"]+)"`)
	var files []string
	for _, dir := range []string{".", "server", "store", "jobs"} {
		m, _ := filepath.Glob(filepath.Join(repoDir(t), dir, "*.go"))
		files = append(files, m...)
	}
	found := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "ConsentRecord{") {
				continue // a consent record's own opt_in/opt_out, not an audit line
			}
			for _, m := range literal.FindAllStringSubmatch(line, -1) {
				found++
				if !slices.Contains(store.AuditActions, store.AuditAction(m[1])) {
					t.Errorf("%s writes audit action %q, which store.AuditActions does not list", filepath.Base(f), m[1])
				}
			}
		}
	}
	if found < 10 {
		t.Fatalf("found only %d audit action literals; the pattern is broken", found)
	}
	marked := web.WithMarkedMisses(web.WithLang(context.Background(), "en"))
	for _, a := range store.AuditActions {
		if !web.AuditActionKnown(string(a)) {
			t.Errorf("audit action %q has no words in web/audit.go", a)
		}
		if en := web.AuditActionLabel(marked, string(a)); strings.Contains(en, "⟦") {
			t.Errorf("audit action %q has no English: %s", a, en)
		}
	}
}
