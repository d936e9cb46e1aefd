package web

// German audit text and English translations for read receipts, typing,
// coexistence, groups and the interactive composer (issue 17).
func init() {
	auditActions["settings.number.signals"] = "Lesebestätigungen/Tippanzeige geändert"
	for de, en := range map[string]string{
		"Lesebestätigungen/Tippanzeige geändert":                                                    "Read receipts/typing indicator changed",
		"Lesebestätigungen senden (blaue Haken, wenn jemand die Unterhaltung öffnet)":               "Send read receipts (blue ticks when someone opens the conversation)",
		"„schreibt …“ anzeigen, während jemand antwortet (nur mit Lesebestätigungen)":               "Show “typing…” while someone replies (only with read receipts)",
		"Chatverlauf: Die Übernahme wurde in der WhatsApp-Business-App abgelehnt.":                  "Chat history: sharing was declined in the WhatsApp Business app.",
		"Chatverlauf wird übernommen: %d %% laut Meta, %d Nachrichten übernommen, %d Teile warten.": "Importing chat history: %d %% according to Meta, %d messages imported, %d parts waiting.",
		"Chatverlauf übernommen: %d Nachrichten (%d von gelöschten Personen ausgelassen).":          "Chat history imported: %d messages (%d from erased people left out).",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
