package outbox

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalizeStopWords(t *testing.T) {
	got, err := NormalizeStopWords([]string{"  ende ", "Ende", "keine   werbung!", "?"})
	if err != nil || strings.Join(got, "|") != "ENDE|KEINE WERBUNG" {
		t.Fatalf("normalised: %q %v", got, err)
	}
	for name, bad := range map[string][]string{
		"empty":     {" ", "!"},
		"too long":  {strings.Repeat("A", MaxStopWordLen+1)},
		"too many":  strings.Fields(strings.Repeat("W ", MaxStopWords+1)),
		"not UTF-8": {"\xff"},
	} {
		if _, err := NormalizeStopWords(bad); !errors.Is(err, ErrStopWords) {
			t.Errorf("%s accepted: %v", name, err)
		}
	}
}

func TestIsStopWordDefaults(t *testing.T) {
	for text, want := range map[string]bool{" Stop! ": true, "stopp.": true, "keine   werbung": true, "bitte nicht stoppen": false,
		"ENDE": false, strings.Repeat(" ", 61) + "STOP": false} {
		if got := IsStopWord(text, nil); got != want {
			t.Errorf("%q: %v", text, got)
		}
	}
	if IsStopWord("STOP", []string{"ENDE"}) || !IsStopWord("ende", []string{"ENDE"}) {
		t.Fatal("configured words replace the defaults")
	}
}

func FuzzIsStopWord(f *testing.F) {
	for _, s := range []string{"STOP", " stop! ", "Stopp.", "keine   werbung", "", "stoppen", "\x00STOP", "ＳＴＯＰ"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		got := IsStopWord(text, DefaultStopWords)
		// Adding surrounding spaces and punctuation never changes the answer.
		if len(text) <= 60 && IsStopWord(" "+text+"! ", DefaultStopWords) != got {
			t.Fatalf("%q: padding changed the result", text)
		}
		if got && len(NormalizeStopWord(text)) == 0 {
			t.Fatalf("%q matched as empty", text)
		}
	})
}
