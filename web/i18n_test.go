package web

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var (
	de = context.Background()
	en = WithLang(context.Background(), "en")
)

func TestNumbersFollowTheLanguage(t *testing.T) {
	for _, c := range []struct {
		ctx  context.Context
		n    int64
		want string
	}{
		{de, 0, "0"}, {de, 999, "999"}, {de, 1234, "1.234"}, {de, 1234567, "1.234.567"}, {de, -1234, "-1.234"},
		{en, 1234, "1,234"}, {en, 1234567, "1,234,567"},
	} {
		if got := Num(c.ctx, c.n); got != c.want {
			t.Errorf("Num(%s, %d) = %q, want %q", Lang(c.ctx), c.n, got, c.want)
		}
	}
	for _, c := range []struct {
		ctx  context.Context
		n    int64
		want string
	}{
		{de, 512, "512 B"}, {de, 1258291, "1,2 MiB"}, {en, 1258291, "1.2 MiB"}, {de, 1536, "1,5 KiB"}, {de, 5 << 30, "5,0 GiB"},
	} {
		if got := bytesHuman(c.ctx, c.n); got != c.want {
			t.Errorf("bytesHuman(%s, %d) = %q, want %q", Lang(c.ctx), c.n, got, c.want)
		}
	}
}

func TestPluralsArePlurals(t *testing.T) {
	for _, c := range []struct {
		ctx  context.Context
		n    int64
		want string
	}{
		{de, 0, "0 Unterhaltungen"}, {de, 1, "1 Unterhaltung"}, {de, 2, "2 Unterhaltungen"}, {de, 1234, "1.234 Unterhaltungen"},
		{en, 1, "1 conversation"}, {en, 2, "2 conversations"}, {en, 1234, "1,234 conversations"},
	} {
		if got := Plural(c.ctx, c.n, "%s Unterhaltung", "%s Unterhaltungen"); got != c.want {
			t.Errorf("Plural(%s, %d) = %q, want %q", Lang(c.ctx), c.n, got, c.want)
		}
	}
}

// TestEveryPluralHasEnglish finds Plural(ctx, n, "…", "…") calls, which
// TestEveryTextHasEnglish's pattern does not see, and checks both forms.
func TestEveryPluralHasEnglish(t *testing.T) {
	re := regexp.MustCompile(`Plural\([^"]*?, "((?:[^"\\]|\\.)*)", "((?:[^"\\]|\\.)*)"\)`)
	var files []string
	for _, pat := range []string{"*.templ", "*.go", "../server/panel*.go"} {
		m, _ := filepath.Glob(pat)
		files = append(files, m...)
	}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_templ.go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range re.FindAllStringSubmatch(string(b), -1) {
			for _, form := range m[1:] {
				n++
				if _, ok := english[form]; !ok {
					t.Errorf("%s: no English for plural form %q", f, form)
				}
				if strings.Count(form, "%s") != 1 || strings.Contains(form, "%d") {
					t.Errorf("%s: plural form %q needs exactly one %%s for the formatted number", f, form)
				}
			}
		}
	}
	if n < 10 {
		t.Fatalf("found only %d plural forms; the pattern is broken", n)
	}
}

func TestMissingTranslationIsMarkedWhenAsked(t *testing.T) {
	if got := T(en, "Kein solcher Text"); got != "Kein solcher Text" {
		t.Fatalf("production falls back to German, got %q", got)
	}
	if got := T(WithMarkedMisses(en), "Kein solcher Text"); got != "⟦Kein solcher Text⟧" {
		t.Fatalf("marked: %q", got)
	}
	if got := T(WithMarkedMisses(de), "Kein solcher Text"); got != "Kein solcher Text" {
		t.Fatalf("German is the source and never marked: %q", got)
	}
}

// TestAuditReadsAsWords: actions, actors, targets and details of the
// audit log are words in the reader's language, and a key from a future
// version is humanised rather than shown raw.
func TestAuditReadsAsWords(t *testing.T) {
	names := AuditNames{Users: map[int64]string{12: "Anna Berger"}, APIKeys: map[string]string{"pk_ab12": "crm"}, Contacts: map[int64]string{}}
	for _, c := range []struct{ got, want string }{
		{AuditActionLabel(de, "login.success"), "Anmeldung erfolgreich"},
		{AuditActionLabel(en, "login.success"), "Login successful"},
		{AuditActionLabel(de, "widget.frob_count"), "Widget frob count"},
		{auditActor(de, names, ActorVM{Kind: ActorUser, UserID: 12}), "Anna Berger"},
		{auditActor(de, names, ActorVM{Kind: ActorUser, UserID: 99}), "Konto #99"},
		{auditActor(de, names, ActorVM{Kind: ActorAPIKey, Key: "pk_ab12"}), "API-Schlüssel „crm“"},
		{auditActor(en, names, ActorVM{Kind: ActorAPIKey, Key: "pk_ab12"}), "API key “crm”"},
		{auditActor(de, names, ActorVM{Kind: ActorSystem}), "System"},
		{auditTarget(de, names, "authz.denied", "GET /settings"), "Seite /settings"},
		{auditTarget(en, names, "retention.policy", "retention:media"), "Retention period: Files"},
	} {
		if c.got != c.want {
			t.Errorf("got %q, want %q", c.got, c.want)
		}
	}
	fields := auditFields(de, names, "user.role", `{"from":"agent","to":"auditor"}`)
	if len(fields) != 2 || fields[0] != (AuditField{"Vorher", "Agent"}) || fields[1] != (AuditField{"Nachher", "Prüfer"}) {
		t.Errorf("role change: %+v", fields)
	}
	fields = auditFields(en, names, "apikey.create", `{"scopes":"read,send,gdpr"}`)
	if len(fields) != 1 || fields[0] != (AuditField{"Scopes", "Read, Send, Data protection"}) {
		t.Errorf("scopes: %+v", fields)
	}
	fields = auditFields(de, names, "retention.run", `{"messages":1234,"media_files":2,"dead":true}`)
	want := []AuditField{{"Dead", "ja"}, {"Dateien", "2"}, {"Nachrichten", "1.234"}}
	if len(fields) != 3 || fields[0] != want[0] || fields[1] != want[1] || fields[2] != want[2] {
		t.Errorf("retention run: %+v", fields)
	}
	if f := auditFields(de, names, "x", "kein json"); len(f) != 1 || f[0].Label != "Details" {
		t.Errorf("non-JSON detail: %+v", f)
	}
}

// TestNavIconsAreDistinct: each navigation entry draws its own icon, so
// the icon-only bars on tablets and phones tell "Protokoll" from
// "Datenschutz".
func TestNavIconsAreDistinct(t *testing.T) {
	var buf bytes.Buffer
	c := Chrome{User: &UserVM{ID: 1, Name: "Anna Berger", Role: "admin"}}
	if err := nav(c).Render(de, &buf); err != nil {
		t.Fatal(err)
	}
	items := regexp.MustCompile(`(?s)<a href="([^"]+)" class="nav-link[^"]*"[^>]*>(.*?)</svg>`).FindAllStringSubmatch(buf.String(), -1)
	if len(items) < 8 {
		t.Fatalf("found %d nav items in %s", len(items), buf.String())
	}
	seen := map[string]string{}
	for _, m := range items {
		if other, ok := seen[m[2]]; ok {
			t.Errorf("%s and %s share an icon", other, m[1])
		}
		seen[m[2]] = m[1]
	}
}
