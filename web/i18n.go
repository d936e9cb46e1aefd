package web

import (
	"context"
	"fmt"
)

// Languages the panel speaks; German is the default.
var Languages = []string{"de", "en"}

type langKey struct{}

type markKey struct{}

// WithLang sets the language for everything rendered with ctx.
func WithLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, langKey{}, lang)
}

// WithMarkedMisses makes T render an English text without translation as
// ⟦German text⟧ instead of falling back to German, so a test that reads
// the rendered pages sees every gap (server.PanelConfig.MarkUntranslated).
func WithMarkedMisses(ctx context.Context) context.Context {
	return context.WithValue(ctx, markKey{}, true)
}

// Lang returns the language of ctx ("de" unless set to "en").
func Lang(ctx context.Context) string {
	if l, _ := ctx.Value(langKey{}).(string); l == "en" {
		return "en"
	}
	return "de"
}

// T translates a German source text into the language of ctx. The German
// text is the key, so templates read naturally and a missing English
// translation falls back to German (web_test.go finds those statically,
// WithMarkedMisses at run time).
func T(ctx context.Context, de string) string {
	if Lang(ctx) == "en" {
		if en, ok := english[de]; ok {
			return en
		}
		if marked, _ := ctx.Value(markKey{}).(bool); marked && de != "" {
			return "⟦" + de + "⟧"
		}
	}
	return de
}

// Tf translates and formats.
func Tf(ctx context.Context, de string, args ...any) string {
	return fmt.Sprintf(T(ctx, de), args...)
}

// Plural picks the singular or the plural form by n, translates it and
// fills in n formatted for the language: Plural(ctx, 2, "%s Unterhaltung",
// "%s Unterhaltungen") is "2 Unterhaltungen". Both forms take one %s.
func Plural(ctx context.Context, n int64, one, many string) string {
	form := many
	if n == 1 {
		form = one
	}
	return fmt.Sprintf(T(ctx, form), Num(ctx, n))
}
