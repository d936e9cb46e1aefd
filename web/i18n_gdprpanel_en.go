package web

// English for consent records, stop words, secure links, restricted
// contacts and the retention shown at first run.
func init() {
	for de, en := range map[string]string{
		"Eingeschränkt (Art. 18)": "Restricted (Art. 18)",
		"Löschung beantragt, aber eine Aufbewahrungspflicht hält die Daten: Sie sind gesperrt, nur Administratoren und Prüfer sehen sie, und es wird nichts gesendet. Sie werden gelöscht, sobald die Pflicht endet.":                                                                   "Erasure was requested, but a legal hold keeps the data: it is locked, only admins and auditors see it, and nothing is sent. It is erased once the hold ends.",
		"Die Verarbeitung ist eingeschränkt (Art. 18 DSGVO, § 35 Abs. 3 BDSG): Die Löschung wurde beantragt, eine Aufbewahrungspflicht hält die Daten aber fest. Mitarbeitende sehen diese Person nicht, es wird nichts gesendet; gelöscht wird automatisch, sobald die Pflicht endet.": "Processing is restricted (Art. 18 GDPR, § 35(3) BDSG): erasure was requested, but a legal hold keeps the data. Agents do not see this person and nothing is sent; it is erased automatically once the hold ends.",
		"Die Verarbeitung dieser Person ist eingeschränkt (Art. 18 DSGVO): Es kann nichts gesendet werden.":                                                                                                                                                                             "Processing of this person's data is restricted (Art. 18 GDPR): nothing can be sent.",

		// Consent records.
		"Einwilligung erfassen":     "Record consent",
		"Einwilligung gespeichert.": "Consent saved.",
		"Entscheidung":              "Decision",
		"Quelle":                    "Source",
		"Nachweis":                  "Evidence",
		"Nachweis:":                 "Evidence:",
		"Nachweis, z. B. Formular-Nr., Datum des Anrufs, Ablageort des Papiers": "Evidence, e.g. form number, date of the call, where the paper is filed",
		"Webformular":               "Web form",
		"im Gespräch erfragt":       "Asked in the conversation",
		"auf Papier unterschrieben": "Signed on paper",
		"telefonisch":               "By phone",
		"per E-Mail":                "By e-mail",
		"Stoppwort des Kunden":      "Customer's stop word",
		"über die API":              "Through the API",
		"die Person selbst":         "the person themselves",
		"API-Schlüssel %s":          "API key %s",
		"Bitte den Zweck wählen: Werbung oder Kundenservice.":              "Please choose the purpose: marketing or customer service.",
		"Bitte wählen, ob die Einwilligung erteilt oder widerrufen wurde.": "Please choose whether consent was given or withdrawn.",
		"Bitte die Quelle wählen.":                                         "Please choose the source.",
		"Der Nachweis ist zu lang (höchstens 4096 Zeichen).":               "The evidence is too long (4096 characters at most).",
		"Für eine Einwilligung bitte den Nachweis angeben (Art. 7 Abs. 1 DSGVO), z. B. Formular-Nr. oder Datum des Gesprächs.":                                                                                                                                    "For a consent, please give the evidence (Art. 7(1) GDPR), e.g. the form number or the date of the conversation.",
		"Nicht gesendet: Die Kategorie dieser Vorlage ist Pforte nicht bekannt, daher wird sie wie Werbung behandelt, und die Person hat nicht in Werbung eingewilligt. Tragen Sie die Kategorie auf der Seite Vorlagen ein oder erfassen Sie eine Einwilligung.": "Not sent: Pforte does not know this template's category, so it is treated as marketing, and this person has not consented to marketing. Enter the category on the Templates page or record a consent.",
		"Nicht gesendet: Meta stuft diese Vorlage als Werbung (MARKETING) ein, und die Person hat nicht in Werbung eingewilligt oder hat widerrufen. Erfassen Sie zuerst eine Einwilligung auf der Kontaktseite.":                                                 "Not sent: Meta categorises this template as marketing (MARKETING), and this person has not consented to marketing or has withdrawn consent. Record a consent on the contact page first.",

		// Stop words.
		"Stoppwörter für Werbung": "Marketing stop words",
		"Stoppwörter":             "Stop words",
		"Schreibt ein Kunde nur eines dieser Wörter (Groß- und Kleinschreibung und Satzzeichen egal), wird er von Werbung abgemeldet und erhält einmal die Bestätigung unten. Ein Wort oder eine Wendung pro Zeile, höchstens 50, je höchstens 64 Zeichen.": "A customer who writes only one of these words (case and punctuation do not matter) is opted out of marketing and gets the confirmation below once. One word or phrase per line, at most 50, each at most 64 characters.",
		"Bestätigung (einmal gesendet)": "Confirmation (sent once)",
		"Leer lassen für den Standardtext (siehe Platzhalter). Höchstens 1000 Zeichen.": "Leave empty for the default text (see the placeholder). At most 1000 characters.",
		"Stoppwörter gespeichert.":                                                      "Stop words saved.",
		"„%s…“ ist zu lang: höchstens %d Zeichen je Stoppwort.":                         "“%s…” is too long: at most %d characters per stop word.",
		"„%s“ enthält keinen Buchstaben und keine Ziffer.":                              "“%s” has no letter and no digit.",
		"Mindestens ein Stoppwort ist nötig, sonst könnten sich Kunden nicht abmelden.": "At least one stop word is needed, or customers could not opt out.",
		"Die Stoppwörter enthalten ungültige Zeichen.":                                  "The stop words contain invalid characters.",
		"Höchstens %d Stoppwörter.":                                                     "At most %d stop words.",
		"Die Bestätigung ist zu lang: höchstens %d Zeichen.":                            "The confirmation is too long: at most %d characters.",

		// Retention at first run.
		"Datenschutz ab Werk: Löschfristen": "Privacy by default: retention periods",
		"nie löschen":                       "never delete",
		"Ältere Daten löscht eine tägliche Bereinigung. Sie können die Fristen später unter „Datenschutz“ ändern.": "A daily clean-up deletes older data. You can change the periods later under “Datenschutz” (data protection).",

		// Secure links.
		"Sicherer Link": "Secure link",
		"Für Ausweis, IBAN oder Gesundheitsdaten: Die Person antwortet auf einer Seite dieses Servers, nicht über WhatsApp. Der Link gilt einmal.": "For ID documents, IBANs or health data: the person answers on a page of this server, not through WhatsApp. The link works once.",
		"Neuer Link – er wird nur jetzt angezeigt:":                                    "New link – shown only now:",
		"Sichere Links brauchen die öffentliche Adresse (--public-url oder --domain).": "Secure links need the public address (--public-url or --domain).",
		"Bitte laden Sie hier Ihren Ausweis hoch":                                      "Please upload your ID here (the customer reads German)",
		"Was erbeten wird": "What is asked for",
		"Gültig für":       "Valid for",
		"1 Tag gültig":     "Valid 1 day",
		"3 Tage gültig":    "Valid 3 days",
		"7 Tage gültig":    "Valid 7 days",
		"Link senden":      "Send link",
		"Nur erstellen":    "Create only",
		"gültig bis":       "valid until",
		"beantwortet":      "answered",
		"abgelaufen":       "expired",
		"offen":            "open",
		"Bitte schreiben Sie, worum Sie bitten (1 bis 500 Zeichen).":                                                           "Please write what you ask for (1 to 500 characters).",
		"Ein Link gilt zwischen einer Stunde und 30 Tagen.":                                                                    "A link is valid between one hour and 30 days.",
		"Senden geht nur, solange das 24-Stunden-Fenster offen ist; sonst den Link erstellen und auf anderem Weg weitergeben.": "Sending works only while the 24-hour window is open; otherwise create the link and pass it on another way.",
		"Sicherer Link gesendet.": "Secure link sent.",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
