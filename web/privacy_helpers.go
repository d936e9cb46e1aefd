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
	case "templates":
		return T(ctx, "Vorlagen mit Meta abgleichen")
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
	case "campaigns":
		return T(ctx, "Kampagnen (abgeschlossen)")
	}
	return class
}

func consentSource(ctx context.Context, s string) string {
	switch s {
	case "web_form":
		return T(ctx, "Webformular")
	case "agent":
		return T(ctx, "im Gespräch erfragt")
	case "paper":
		return T(ctx, "auf Papier unterschrieben")
	case "phone":
		return T(ctx, "telefonisch")
	case "email":
		return T(ctx, "per E-Mail")
	case "customer_stop":
		return T(ctx, "Stoppwort des Kunden")
	case "api":
		return T(ctx, "über die API")
	case "import":
		return T(ctx, "Import")
	}
	return s
}

func secureLinkState(ctx context.Context, s string) string {
	switch s {
	case "answered":
		return T(ctx, "beantwortet")
	case "expired":
		return T(ctx, "abgelaufen")
	}
	return T(ctx, "offen")
}

// contentRows are the conversation rows a contact page lists: none for
// viewers who must not see message contents (auditors).
func contentRows(vm ContactDetailVM) []ConvRowVM {
	if !vm.ShowContent {
		return nil
	}
	return vm.Conversations
}
