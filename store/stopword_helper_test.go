package store

import (
	"slices"
	"strings"
)

// testStopWord is the store tests' own stop-word matcher, so that they
// test what the store does with a match rather than the product's rule:
// the whole message, upper-cased and without surrounding spaces and
// punctuation, is one of words; no words configured means STOP and STOPP.
func testStopWord(text string, words []string) bool {
	if words == nil {
		words = []string{"STOP", "STOPP"}
	}
	return slices.Contains(words, strings.ToUpper(strings.Trim(text, " !.?")))
}

// TestStopWord lets the external tests (package store_test) use it.
var TestStopWord = testStopWord
