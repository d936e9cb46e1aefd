package outbox

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// The stop-word rule: which whole messages opt a customer out of
// marketing. The store only keeps the configured list and applies this
// rule inside ingest (store.Options.IsStopWord), so that the opt-out is
// committed with the message.

// DefaultStopWords opt a customer out of marketing when they send one of
// them as the whole message and no words are configured. Admins change the
// list in the settings. Read only.
var DefaultStopWords = []string{"STOP", "STOPP", "ABMELDEN", "ABBESTELLEN", "UNSUBSCRIBE", "KEINE WERBUNG"}

// Limits of a stop-word list. A customer's message longer than
// MaxStopWordLen bytes is never taken as a stop word, so a longer word
// could not match.
const (
	MaxStopWords   = 50
	MaxStopWordLen = 64
)

// ErrStopWords is wrapped by NormalizeStopWords when it refuses a list.
var ErrStopWords = errors.New("outbox: invalid stop words")

// NormalizeStopWord upper-cases, trims punctuation, symbols and spaces
// and collapses inner spaces, so that "Stop!" and " stopp. " match.
func NormalizeStopWord(s string) string {
	s = strings.TrimFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsPunct(r) || unicode.IsSymbol(r) })
	return strings.Join(strings.Fields(strings.ToUpper(s)), " ")
}

// NormalizeStopWords normalises a list as an admin typed it: words that
// normalise to nothing are dropped, duplicates too. It refuses more than
// MaxStopWords entries, invalid UTF-8, a word longer than MaxStopWordLen
// and a list left empty (customers could not opt out then).
func NormalizeStopWords(words []string) ([]string, error) {
	if len(words) > MaxStopWords {
		return nil, fmt.Errorf("%w: at most %d words", ErrStopWords, MaxStopWords)
	}
	var out []string
	for _, w := range words {
		if !utf8.ValidString(w) {
			return nil, fmt.Errorf("%w: invalid UTF-8", ErrStopWords)
		}
		n := NormalizeStopWord(w)
		if len(n) > MaxStopWordLen {
			return nil, fmt.Errorf("%w: %q is longer than %d bytes", ErrStopWords, n, MaxStopWordLen)
		}
		if n != "" && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: at least one stop word is needed, or customers could not opt out", ErrStopWords)
	}
	return out, nil
}

// IsStopWord reports whether a whole message text is one of words, which
// are normalised (NormalizeStopWords); nil words means DefaultStopWords.
// It is store.Options.IsStopWord in production.
func IsStopWord(text string, words []string) bool {
	if len(text) > MaxStopWordLen {
		return false
	}
	if words == nil {
		words = DefaultStopWords
	}
	return slices.Contains(words, NormalizeStopWord(text))
}
