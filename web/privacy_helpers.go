package web

import "context"

func jobLabel(ctx context.Context, name string) string {
	switch name {
	case "retention":
		return T(ctx, "Bereinigung nach Löschfristen")
	case "backup":
		return T(ctx, "Sicherung")
	case "maintenance":
		return T(ctx, "Wartung der Datenbank")
	}
	return name
}

// RetentionLabel names a retention class for the page.
func RetentionLabel(ctx context.Context, class string) string {
	switch class {
	case "messages":
		return T(ctx, "Nachrichten")
	case "media":
		return T(ctx, "Dateien")
	case "deliveries":
		return T(ctx, "Rohdaten der Webhooks")
	case "closed_conversations":
		return T(ctx, "Geschlossene Unterhaltungen")
	case "audit":
		return T(ctx, "Protokoll")
	case "outbox":
		return T(ctx, "Postausgang (erledigt)")
	case "fanout":
		return T(ctx, "Weiterleitungen (aufgegeben)")
	case "secure_links":
		return T(ctx, "Sichere Links (abgelaufen)")
	}
	return class
}
