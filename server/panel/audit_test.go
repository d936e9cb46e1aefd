package panel_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// TestAuditActionsAreDeclared finds every audit action written anywhere in
// the code: a literal is an error (the vocabulary is typed), a store.Audit*
// constant must belong to the vocabulary and have words in German and
// English.
func TestAuditActionsAreDeclared(t *testing.T) {
	literal := regexp.MustCompile(`(?:Action:\s*|store_audit\([^,]+, r, |action :?= )"([^"]+)"`)
	constant := regexp.MustCompile(`(?:Action:\s*|store_audit\([^,]+, r, |action :?= )(?:store\.)?(Audit[A-Z][A-Za-z0-9]*)\b`)
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
				t.Errorf("%s writes audit action %q as a literal; use its store.Audit* constant", filepath.Base(f), m[1])
			}
			found += len(constant.FindAllStringSubmatch(line, -1))
		}
	}
	if found < 10 {
		t.Fatalf("found only %d audit actions written; the pattern is broken", found)
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
