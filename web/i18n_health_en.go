package web

// English for the health, alarm and cost pages.
func init() {
	for de, en := range map[string]string{
		"%s wartend, %s versandt (30 Tage).": "%s waiting, %s sent (30 days).",
		"Absender":                           "Sender",
		"Alarm-E-Mails":                      "Alarm e-mails",
		"Alarm-E-Mails können nicht versandt werden; Pforte versucht es weiter.": "Alarm e-mails cannot be sent; Pforte keeps trying.",
		"Anzeigen":          "Show",
		"Benutzer":          "User",
		"Bis (Monat)":       "To (month)",
		"CSV herunterladen": "Download CSV",
		"Diese Kategorie kennt Pforte noch nicht; sie hat keinen Preis in der Tabelle.": "Pforte does not know this category yet; it has no price in the table.",
		"Durchsatz": "Throughput",
		"Eine Zeile je Preis: Ländervorwahl, Kategorie, Währung, Preis pro Nachricht, gültig ab. Mitgeliefert: Meta-Preisliste vom %s; Meta ändert Preise zum Quartalsbeginn, aktuelle Preise stehen auf Metas Seite „Pricing“.": "One line per price: country calling code, category, currency, price per message, valid from. Shipped: Meta's rate card of %s; Meta changes prices at the start of a quarter, current prices are on Meta's \"Pricing\" page.",
		"Empfänger (durch Komma getrennt)": "Recipients (comma-separated)",
		"Kategorie":                        "Category",
		"Kosten":                           "Costs",
		"Land":                             "Country",
		"Lesen bei Meta fehlgeschlagen:":   "Reading from Meta failed:",
		"Limit":                            "Limit",
		"Local Storage":                    "Local Storage",
		"Mailserver":                       "Mail server",
		"Monat":                            "Month",
		"Nummern":                          "Numbers",
		"Port":                             "Port",
		"Preistabelle":                     "Rate table",
		"Preistabelle speichern":           "Save rate table",
		"Qualität":                         "Quality",
		"STARTTLS (Port 587)":              "STARTTLS (port 587)",
		"TLS (Port 465)":                   "TLS (port 465)",
		"Verschlüsselung":                  "Encryption",
		"Von (Monat)":                      "From (month)",
		"Zeile %d der Preistabelle ist ungültig: erwartet „Ländervorwahl, Kategorie, Währung, Preis, gültig ab (JJJJ-MM-TT)“.": "Line %d of the rate table is invalid: expected \"country code, category, currency, price, valid from (YYYY-MM-DD)\".",
		"Zustand und Alarme": "Health and alarms",
		"an (%s)":            "on (%s)",
		"berechnet":          "billable",
		"gespeichert; leer lassen, um es zu behalten": "saved; leave empty to keep it",
		"kein Preis":                    "no price",
		"keine (nur lokaler Relay)":     "none (local relay only)",
		"neu":                           "new",
		"Bitte den Mailserver angeben.": "Please give the mail server.",
		"Bitte einen Port von 1 bis 65535 angeben.":                                               "Please give a port from 1 to 65535.",
		"Bitte eine Verschlüsselung wählen.":                                                      "Please choose an encryption.",
		"Bitte eine Absenderadresse angeben.":                                                     "Please give a sender address.",
		"Bitte mindestens eine gültige Empfängeradresse angeben.":                                 "Please give at least one valid recipient address.",
		"Bitte einen gültigen Zeitraum (Monat von–bis) angeben.":                                  "Please give a valid period (month from–to).",
		"Zustand, Alarme und Kosten":                                                              "Health, alarms and costs",
		"Local Storage: noch nicht bei Meta gelesen":                                              "Local Storage: not read from Meta yet",
		"Local Storage ist AN: Meta speichert Nachrichten dieser Nummer ruhend nur in %s (EU).":   "Local Storage is ON: Meta keeps this number's messages at rest only in %s (EU).",
		"Local Storage: %s. Meta speichert Nachrichten dieser Nummer ruhend nicht nur in der EU.": "Local Storage: %s. Meta keeps this number's messages at rest not only in the EU.",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
