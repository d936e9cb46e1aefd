package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// vocabLiteral finds the stored vocabularies spelled as literals: roles,
// scopes, actors and outbox, media, message, consent and erasure states
// have named types and constants in store (store/actor.go, states.go, …),
// and the panel's routes take a role set, not letters.
var vocabLiteral = regexp.MustCompile(strings.Join([]string{
	`[!=]= "(queued|sending|accepted|failed|unknown|pending|stored|opt_in|opt_out|restricted|erased|running|sent|delivered|read|played)"`,
	`[!=]= "(admin|agent|auditor|send|gdpr|system|system:stop-reply|cli|setup|anonymous|customer|restore|api)"`,
	`case "(queued|sending|stored|opt_in|opt_out|restricted|erased|admin|agent|auditor|gdpr|anonymous|customer)"`,
	`"(user|apikey):" ?\+`, `"(user|apikey):%`, `(apiKey|graphKey|\.Has)\("`, `Actor: "`, `"AGU"`, `roleLetter`,
}, "|"))

// vocabDirs are the packages that speak the vocabularies. Meta's wire
// format (cloudapi, the simulator) has its own words, and web, a leaf that
// cannot import store, keeps view-model strings at the template boundary.
var vocabDirs = []string{"store", "jobs", "cli", "server/gateway", "server/panel", "server/outbox", "server/mediafetch",
	"server/fanout", "server/privacy", "server/testenv", "server/tlsmgr"}

// TestNoVocabularyLiterals keeps the typed vocabulary from eroding: a
// comparison with "queued" or an actor built as "user:"+id compiles, but
// misses the next renamed or added value.
func TestNoVocabularyLiterals(t *testing.T) {
	checked := 0
	for _, dir := range vocabDirs {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			checked++
			for i, line := range strings.Split(string(src), "\n") {
				if code, _, _ := strings.Cut(line, "//"); vocabLiteral.MatchString(code) {
					t.Errorf("%s:%d: vocabulary as a literal; use the store constant: %s", path, i+1, strings.TrimSpace(line))
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if checked < 50 {
		t.Fatalf("only %d files checked; did the layout change?", checked)
	}
}
