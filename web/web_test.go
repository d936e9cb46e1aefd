package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEveryTextHasEnglish finds every T(ctx, "...") and Tf(ctx, "...") in
// the templates and Go files and checks it has an English translation.
func TestEveryTextHasEnglish(t *testing.T) {
	// Texts translated where they are shown: T(ctx, "..."), and messages
	// handed to failPage, fail, setFlash or returned as user-facing problems.
	re := regexp.MustCompile(`(?:\bTf?\([^"]{1,60}?, |failPage\(w, r, [A-Za-z.]+, |\bfail\([A-Za-z.]+, |^\s+return |^\s+\d+:\s+|const loginErr = )"((?:[^"\\]|\\.)*)"`)
	var files []string
	re.Longest()
	for _, dir := range []string{".", "../server"} {
		pats := []string{"*.templ", "*.go"}
		if dir != "." {
			pats = []string{"panel*.go", "password.go"} // the panel's handlers
		}
		for _, pat := range pats {
			m, _ := filepath.Glob(filepath.Join(dir, pat))
			files = append(files, m...)
		}
	}
	missing := map[string]bool{}
	n := 0
	for _, f := range files {
		if strings.HasSuffix(f, "_templ.go") || strings.HasSuffix(f, "_test.go") {
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range (*lineRegexp)(re).findAll(string(b)) {
			n++
			key := strings.ReplaceAll(m, `\"`, `"`)
			if identifier.MatchString(key) || strings.HasPrefix(key, "store:") || strings.HasPrefix(key, "$") {
				continue // not a sentence for people
			}
			if _, ok := english[key]; !ok {
				missing[key] = true
			}
		}
	}
	if n < 200 {
		t.Fatalf("found only %d texts; the pattern is broken", n)
	}
	for k := range missing {
		t.Errorf("no English for %q", k)
	}
}

func TestLangFallsBackToGerman(t *testing.T) {
	ctx := context.Background()
	if T(ctx, "Posteingang") != "Posteingang" || T(WithLang(ctx, "en"), "Posteingang") != "Inbox" || T(WithLang(ctx, "fr"), "Posteingang") != "Posteingang" {
		t.Fatal("translation")
	}
}

func TestVendoredHTMXIsPinned(t *testing.T) {
	b, err := os.ReadFile("static/htmx.min.js")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if got := hex.EncodeToString(sum[:]); got != "d6fdc75f204e6bdefa99b69bf1e6d4ac69b8a364f77929f45c13476b4000f717" {
		t.Fatalf("htmx.min.js changed: sha256 %s; update static/VENDOR.md and this test together", got)
	}
	if !strings.HasPrefix(Asset("htmx.min.js"), "/static/htmx.min.d6fdc75f204e.js") {
		t.Fatalf("asset URL %s is not content-addressed", Asset("htmx.min.js"))
	}
}

func TestLinkify(t *testing.T) {
	cases := []struct {
		in   string
		want []TextPart
	}{
		{"siehe https://example.de/a?b=1.", []TextPart{{Text: "siehe "}, {Text: "https://example.de/a?b=1", URL: "https://example.de/a?b=1"}, {Text: "."}}},
		{"javascript:alert(1)", []TextPart{{Text: "javascript:alert(1)"}}},
		{"http://", []TextPart{{Text: "http://"}}},
		{"(http://a.de)", []TextPart{{Text: "("}, {Text: "http://a.de", URL: "http://a.de"}, {Text: ")"}}},
	}
	for _, c := range cases {
		got := Linkify(c.in)
		if len(got) != len(c.want) {
			t.Errorf("Linkify(%q) = %+v, want %+v", c.in, got, c.want)
			continue
		}
		for i := range got {
			if got[i] != c.want[i] {
				t.Errorf("Linkify(%q)[%d] = %+v, want %+v", c.in, i, got[i], c.want[i])
			}
		}
	}
}

// FuzzLinkify: the parts always add up to the input, and only http(s)
// parts become links.
func FuzzLinkify(f *testing.F) {
	for _, s := range []string{"https://a.de x", "http://<script>", "xhttps://", "https://a.de/\"onmouseover=", "http://[::1]:80/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var b strings.Builder
		for _, p := range Linkify(s) {
			b.WriteString(p.Text)
			if p.URL != "" && !strings.HasPrefix(p.URL, "http://") && !strings.HasPrefix(p.URL, "https://") {
				t.Fatalf("non-http link %q", p.URL)
			}
			if p.URL != "" && strings.ContainsAny(p.URL, "<>\" \n") {
				t.Fatalf("link with markup characters %q", p.URL)
			}
		}
		if b.String() != s {
			t.Fatalf("parts %q != input %q", b.String(), s)
		}
	})
}

// TestMessageRendersHostileContentInert renders every part of a message
// that customers control with markup in it.
func TestMessageRendersHostileContentInert(t *testing.T) {
	evil := `<script>alert(1)</script><img src=x onerror=alert(2)>"'`
	m := MessageVM{ID: 1, WAMID: `wamid."><svg onload=alert(3)>`, Type: "document", At: time.Now(), Text: evil + " javascript:alert(4) https://ok.example/x",
		Media:    &MediaVM{URL: "/conversations/1/media/1", Filename: evil + ".pdf", State: "stored"},
		Location: &LocationVM{Name: evil, Address: evil, MapURL: "javascript:alert(5)"},
		Contacts: []ContactCardVM{{Name: evil, Phones: []string{evil}}},
		Choice:   &ChoiceVM{Title: evil, Description: evil},
		Order:    &OrderVM{Items: []OrderItemVM{{Product: evil, Quantity: "1", Price: evil}}},
		Quote:    &QuoteVM{WAMID: evil, Text: evil},
		Referral: &ReferralVM{Headline: evil, SourceURL: "javascript:alert(6)"},
	}
	var buf bytes.Buffer
	if err := Message(m, 1).Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, bad := range []string{"<script>", "<img src=x", "<svg onload", `href="javascript:`} {
		if strings.Contains(out, bad) {
			t.Errorf("rendered message contains %q", bad)
		}
	}
	if m := regexp.MustCompile(`<[a-zA-Z]+(?:\s+[a-zA-Z:-]+(?:="[^"]*"|='[^']*')?)*\s+on[a-z]+=`).FindString(out); m != "" {
		t.Errorf("an element carries an event handler: %s", m)
	}
	if !strings.Contains(out, "&lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("hostile text not shown escaped")
	}
	if !strings.Contains(out, `href="https://ok.example/x"`) {
		t.Error("a real link was not linked")
	}
}

func TestNiceMaxGivesRoundGrid(t *testing.T) {
	for _, c := range []struct{ in, want int }{{0, 4}, {3, 4}, {8, 8}, {9, 20}, {41, 80}, {170, 200}, {1000, 2000}} {
		if got := niceMax(c.in); got != c.want {
			t.Errorf("niceMax(%d) = %d, want %d", c.in, got, c.want)
		}
		for _, g := range gridLines(c.in) {
			if g.Value*4%niceMax(c.in) != 0 {
				t.Errorf("grid value %d of %d is not a quarter", g.Value, niceMax(c.in))
			}
		}
	}
}

// identifier matches strings that are code, not text for people.
var identifier = regexp.MustCompile(`^[a-z0-9_.:/%-]*$|^[A-Z_]+$|^[^A-Za-z]*$|^__`)

// lineRegexp matches per line, so ^ anchors work in multi-line files.
type lineRegexp regexp.Regexp

func (l *lineRegexp) findAll(s string) []string {
	re := (*regexp.Regexp)(l)
	var out []string
	for _, line := range strings.Split(s, "\n") {
		for _, m := range re.FindAllStringSubmatch(line, -1) {
			out = append(out, m[1])
		}
	}
	return out
}
