package web

import (
	"context"
	"strings"
)

// PricingCategoryLabel shows Meta's pricing category as a word
// ("marketing_lite" → "Marketing lite"); Meta's names are the same in
// German and English panels, as on Meta's rate card.
func PricingCategoryLabel(c string) string {
	c = strings.ReplaceAll(c, "_", " ")
	if c == "" {
		return "–"
	}
	return strings.ToUpper(c[:1]) + c[1:]
}

func billableText(ctx context.Context, billable bool) string {
	if billable {
		return T(ctx, "kostenpflichtig")
	}
	return T(ctx, "kostenlos")
}
