package web

// English for the automations page and the inbox's business hours line.
func init() {
	for de, en := range map[string]string{
		"Automatisierung": "Automations",
		"Geschäftszeiten": "Business hours",
		"Geschäftszeiten und automatische Antworten je Rufnummer. Alles ist aus, bis Sie es einschalten.":                                                                                   "Business hours and automatic replies per number. Everything is off until you turn it on.",
		"Automatische Antworten sind Service-Nachrichten an Ihre Kunden. Sie können nach Metas Preisen (seit 2025) Geld kosten; die Übersicht zeigt, was Automatisierungen gekostet haben.": "Automatic replies are service messages to your customers. Under Meta's pricing (since 2025) they may cost money; the dashboard shows what automations cost.",
		"nur bundesweite Feiertage": "nationwide holidays only",
		"Tag":                       "Day",
		"Geöffnet":                  "Open",
		"Text (Deutsch)":            "Text (German)",
		"Text (Englisch, für Kunden mit ausländischer Nummer)":                                           "Text (English, for customers with a foreign number)",
		"Noch keine Rufnummer bekannt: Sie erscheint mit der ersten Nachricht oder unter Einstellungen.": "No business number known yet: it appears with the first message or under Settings.",
		"Anzeigen":                                     "Show",
		"Zeitzone":                                     "Time zone",
		"Bundesland (Feiertage)":                       "Federal state (holidays)",
		"Geschlossene Tage (Betriebsferien)":           "Closed days (company holidays)",
		"Ein Datum (JJJJ-MM-TT) pro Zeile.":            "One date (YYYY-MM-DD) per line.",
		"Senden, wenn niemand antwortet innerhalb von": "Send when nobody answers within",
		"Link zur Datenschutzerklärung":                "Link to the privacy policy",
		"Je Tag Zeiträume wie 08:00-12:00, 13:00-18:00; ein leerer Tag ist geschlossen. Gesetzliche Feiertage des Bundeslandes und die geschlossenen Tage sind geschlossen.": "Per day, ranges like 08:00-12:00, 13:00-18:00; an empty day is closed. The state's public holidays and the closed days are closed.",
		"Eingeschaltet":                       "On",
		"Höchstens einmal je Unterhaltung in": "At most once per conversation in",
		"Montag":                              "Monday",
		"Dienstag":                            "Tuesday",
		"Mittwoch":                            "Wednesday",
		"Donnerstag":                          "Thursday",
		"Freitag":                             "Friday",
		"Samstag":                             "Saturday",
		"Sonntag":                             "Sunday",
		"Innerhalb der Geschäftszeiten.":      "Within business hours.",
		"Außerhalb der Geschäftszeiten.":      "Outside business hours.",
		"Außerhalb der Geschäftszeiten, öffnet %s.": "Outside business hours, opens %s.",
		"Begrüßung":                        "Welcome",
		"Automatische Antworten (30 Tage)": "Automatic replies (30 days)",
		"Service-Nachrichten können Geld kosten; Meta meldet je Nachricht, ob sie berechnet wird, aber keinen Preis.": "Service messages may cost money; Meta reports per message whether it is billed, but no price.",
		"Antwort":             "Reply",
		"Gesendet":            "Sent",
		"Laut Meta berechnet": "Billed according to Meta",
		"Für die allererste Nachricht eines Kunden, einmal: mit dem Datenschutzhinweis nach Art. 13 DSGVO (Verantwortlicher, Zwecke, Speicherdauer, Rechte) und dem Link zu Ihrer Datenschutzerklärung.": "For a customer's very first message, once: with the privacy notice of Art. 13 GDPR (controller, purposes, retention, rights) and the link to your privacy policy.",
		"Variablen: {{name}}, {{privacy_url}}, {{next_opening}}": "Variables: {{name}}, {{privacy_url}}, {{next_opening}}",
		"Abwesenheitsnotiz": "Away reply",
		"Für Nachrichten außerhalb der Geschäftszeiten, mit der nächsten Öffnungszeit.": "For messages outside business hours, with the next opening time.",
		"Variablen: {{name}}, {{next_opening}}":                                         "Variables: {{name}}, {{next_opening}}",
		"Warte-Antwort":                                                                 "Waiting reply",
		"Wenn während der Geschäftszeiten niemand innerhalb der Wartezeit antwortet.":   "When nobody answers within the waiting time during business hours.",
		"Variablen: {{name}}":                                                           "Variables: {{name}}",
		"Geschäftszeiten gespeichert.":                                                  "Business hours saved.",
		"Automatische Antwort gespeichert.":                                             "Automatic reply saved.",
		"Automatisch: %s":                                                               "Automatic: %s",
		"Bot aktiv: Automatische Antworten ruhen, bis jemand übernimmt (schreibt oder zuweist).": "Bot active: automatic replies rest until someone takes over (writes or assigns).",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
