package cloudapi

import (
	"fmt"
	"mime"
	"path"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Filename returns a safe download name: the sender's (sanitised) for
// documents, else one made from the kind, message id and MIME type.
func Filename(given, kind, mimeType string, messageID int64) string {
	if s := SanitizeFilename(given); s != "" {
		return s
	}
	if kind == "" {
		kind = "file"
	}
	return fmt.Sprintf("%s-%d%s", kind, messageID, Extension(mimeType))
}

// Extension is the usual file name extension of a MIME type (".jpg", not
// the ".jpe" the system's table may list first), or "" for an unknown one.
// Supported media types take their extension from Meta's list, so names
// do not depend on the system's MIME table.
func Extension(mimeType string) string {
	if t, ok := supported(mimeType); ok {
		return t.exts[0]
	}
	exts, _ := mime.ExtensionsByType(strings.TrimSpace(strings.SplitN(mimeType, ";", 2)[0]))
	if len(exts) == 0 {
		return ""
	}
	for _, e := range exts {
		if e == ".jpg" || e == ".pdf" || e == ".ogg" || e == ".mp4" || e == ".png" || e == ".webp" {
			return e
		}
	}
	return exts[0]
}

// SanitizeFilename keeps a file name harmless everywhere it is shown or
// saved: no directories, no control or quote characters, no leading dots,
// at most 120 bytes of valid UTF-8. It returns "" when nothing usable is left.
func SanitizeFilename(name string) string {
	name = strings.ToValidUTF8(name, "")
	name = strings.ReplaceAll(name, "\\", "/")
	name = path.Base(name)
	var b strings.Builder
	for _, r := range name {
		switch {
		case unicode.IsControl(r), r == '"', r == '/', r == ':', r == '*', r == '?', r == '<', r == '>', r == '|', r == ';',
			unicode.Is(unicode.Bidi_Control, r), r == '\u200b', r == '\ufeff':
			b.WriteRune('_')
		case unicode.IsSpace(r):
			b.WriteRune(' ')
		default:
			b.WriteRune(r)
		}
	}
	s := strings.Trim(strings.TrimSpace(b.String()), ". ")
	for len(s) > 120 {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	if strings.Trim(s, "_") == "" {
		return ""
	}
	return s
}
