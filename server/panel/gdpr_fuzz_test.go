package panel

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

// FuzzStopWordsForm: whatever an admin types, the form either refuses it
// with a reason or accepts words the store takes as they are, and each
// accepted word, written alone by a customer, is recognised as a stop word.
func FuzzStopWordsForm(f *testing.F) {
	for _, seed := range []string{"STOP\nABMELDEN", "Stop!\r\n\r\nkeine  Werbung", "", " , ,\n", "!!!", "a,b,c", strings.Repeat("x", 65),
		strings.Repeat("W\n", 51), "Ä\u0085ö", "\xff\xfe", "ß\nİ\nǅ", "STOP\x00"} {
		f.Add(seed)
	}
	st, err := store.Open(context.Background(), f.TempDir(), store.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), IsStopWord: outbox.IsStopWord})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { st.Close() })
	f.Fuzz(func(t *testing.T, text string) {
		ctx := context.Background()
		words, problem := parseStopWordsForm(ctx, text)
		if problem != "" {
			if words != nil {
				t.Fatal("refused, yet words returned")
			}
			return
		}
		if len(words) == 0 || len(words) > maxStopWords {
			t.Fatalf("accepted %d words", len(words))
		}
		for _, w := range words {
			if len(w) > maxStopWordLen || !utf8.ValidString(w) || strings.ContainsAny(w, ",\r\n") ||
				strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }) < 0 {
				t.Fatalf("accepted %q", w)
			}
		}
		if err := st.SetStopWords(ctx, words, "fuzz", time.Now()); err != nil {
			t.Fatalf("the store refused accepted words %q: %v", words, err)
		}
		saved, err := st.StopWords(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, w := range words {
			if !outbox.IsStopWord(w, saved) {
				t.Fatalf("%q is not recognised after saving (saved %q)", w, saved)
			}
		}
		// The words come back normalised; each as the admin typed it is
		// recognised too.
		for _, line := range strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == '\r' || r == ',' }) {
			if w := strings.TrimSpace(line); w != "" && len(w) <= maxStopWordLen && !outbox.IsStopWord(w, saved) {
				t.Fatalf("%q as typed is not recognised after saving (saved %q)", w, saved)
			}
		}
	})
}
