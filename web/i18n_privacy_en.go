package web

// English for the data protection page and the legal hold form.
func init() {
	for de, en := range map[string]string{
		"Sichere Links (abgelaufen)":                     "Secure links (expired)",
		"Bitte eine Zahl von 0 bis 36500 Tagen angeben.": "Please give a number of days from 0 to 36500.",
		"Löschfrist gespeichert.":                        "Retention period saved.",
		"Auftragsverarbeiter":                            "Processors",
		"Dateien":                                        "Files",
		"Geschlossene Unterhaltungen":                    "Closed conversations",
		"Datenart":                                       "Kind of data",
		"Aufbewahrungsfrist":                             "Retention period",
		"Grund":                                          "Reason",
		"Kein Zeitplan aktiv.":                           "No schedule running.",
		"Ein Entwurf aus den aktuellen Einstellungen; vom Verantwortlichen zu prüfen und zu ergänzen. Als Datei: pforte records.": "A draft from the current settings, for the controller to review and complete. As a file: pforte records.",
		"Rechtsgrundlage":       "Legal basis",
		"Ort":                   "Location",
		"Wartung der Datenbank": "Database maintenance",
		"Jetzt ausführen":       "Run now",
		"Betroffene":            "Data subjects",
		"Gestartet; das Ergebnis steht gleich unter „Geplante Aufgaben“.": "Started; the result appears under “Scheduled jobs” shortly.",
		"Aufbewahrungspflicht bis %s gesetzt.":                            "Legal hold set until %s.",
		"Aufbewahrungspflicht aufgehoben.":                                "Legal hold released.",
		"Datenkategorien":                                                 "Data categories",
		"Geschäftsbrief, 6 Jahre":                                         "Business letter, 6 years",
		"Grund, z. B. Rechnung 2026-17":                                   "Reason, e.g. invoice 2026-17",
		"Was älter ist, löscht die tägliche Bereinigung; gesperrte Daten (Aufbewahrungspflicht) bleiben. 0 heißt: nie löschen.": "The daily clean-up deletes what is older; data under a legal hold stays. 0 means never delete.",
		"Jetzt fällig": "Due now",
		"Dateien, die die nächste Bereinigung entfernt:":           "Files the next clean-up removes:",
		"Verzeichnis von Verarbeitungstätigkeiten (Art. 30 DSGVO)": "Record of processing activities (Art. 30 GDPR)",
		"Technische und organisatorische Maßnahmen":                "Technical and organisational measures",
		"Bücher, 10 Jahre":                "Books, 10 years",
		"Rufnummer":                       "Number",
		"nächster Lauf":                   "next run",
		"Aufbewahren (Tage)":              "Keep (days)",
		"Buchungsbeleg/Rechnung, 8 Jahre": "Voucher/invoice, 8 years",
		"Zweck":                           "Purpose",
		"Empfänger":                       "Recipients",
		"Bereinigung nach Löschfristen":   "Retention clean-up",
		"Rohdaten der Webhooks":           "Raw webhook deliveries",
		"Weiterleitungen (aufgegeben)":    "Forwards given up on",
		"Löschfristen, geplante Aufgaben und das Verzeichnis von Verarbeitungstätigkeiten.": "Retention periods, scheduled jobs and the record of processing activities.",
		"Löschfristen":           "Retention",
		"Geplante Aufgaben":      "Scheduled jobs",
		"Postausgang (erledigt)": "Outbox (finished)",
		"Drittland":              "Third country",
		"Aufheben":               "Release",
		"Aufbewahrung setzen":    "Set legal hold",
		"Sicherung":              "Backup",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
