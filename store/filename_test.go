package store

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzSafeFileName(f *testing.F) {
	for _, s := range []string{"", "rechnung.pdf", "../../etc/passwd", `C:\Windows\x.exe`, "CON.txt", "a\x00b", "..", " . ",
		strings.Repeat("ä", 200), "x/y/", "\xff\xfe", "nul"} {
		f.Add(s, "application/pdf")
	}
	f.Fuzz(func(t *testing.T, name, mime string) {
		got := SafeFileName(name, mime)
		if got == "" || len(got) > 110 || !utf8.ValidString(got) {
			t.Fatalf("SafeFileName(%q) = %q", name, got)
		}
		if strings.ContainsAny(got, "/\\<>:\"|?*") || got == "." || got == ".." {
			t.Fatalf("SafeFileName(%q) = %q is not a plain name", name, got)
		}
		for _, r := range got {
			if r < 0x20 || r == 0x7f {
				t.Fatalf("control character in %q", got)
			}
		}
	})
}
