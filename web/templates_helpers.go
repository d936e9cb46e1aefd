package web

import "context"

// categorySuffix marks templates that need a marketing opt-in.
func categorySuffix(ctx context.Context, category string) string {
	switch category {
	case "MARKETING":
		return " · " + T(ctx, "Werbung")
	case "":
		return " · " + T(ctx, "Kategorie unbekannt")
	}
	return ""
}
