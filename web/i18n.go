package web

import (
	"context"
	"fmt"
)

// Languages the panel speaks; German is the default.
var Languages = []string{"de", "en"}

type langKey struct{}

// WithLang sets the language for everything rendered with ctx.
func WithLang(ctx context.Context, lang string) context.Context {
	return context.WithValue(ctx, langKey{}, lang)
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
// translation falls back to German (web/i18n_test.go finds those).
func T(ctx context.Context, de string) string {
	if Lang(ctx) == "en" {
		if en, ok := english[de]; ok {
			return en
		}
	}
	return de
}

// Tf translates and formats.
func Tf(ctx context.Context, de string, args ...any) string {
	return fmt.Sprintf(T(ctx, de), args...)
}
