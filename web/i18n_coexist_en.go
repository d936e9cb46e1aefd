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
		"Knopf 1":                             "Button 1",
		"Knopf 2":                             "Button 2",
		"Knopf 3":                             "Button 3",
		"Beschriftung des Listenknopfs":       "Label of the list button",
		"Auswahl ansehen":                     "View choices",
		"Knöpfe, Liste, Standort …":           "Buttons, list, location …",
		"Art":                                 "Kind",
		"Antwortknöpfe (bis 3)":               "Reply buttons (up to 3)",
		"Auswahlliste (bis 10 Zeilen)":        "List (up to 10 rows)",
		"Knopf mit Link":                      "Button with a link",
		"Standort erfragen":                   "Ask for the location",
		"Standort senden":                     "Send a location",
		"Kontaktkarte senden":                 "Send a contact card",
		"Reaktion auf die gewählte Nachricht": "Reaction to the chosen message",
		"Kopfzeile (optional)":                "Header (optional)",
		"Fußzeile (optional)":                 "Footer (optional)",
		"Zeilen: eine pro Zeile, „Titel | Beschreibung“; „## Titel“ beginnt einen Abschnitt": "Rows: one per line, “Title | Description”; “## Title” starts a section",
		"Knopftext":     "Button text",
		"Link":          "Link",
		"Breitengrad":   "Latitude",
		"Längengrad":    "Longitude",
		"Name des Orts": "Name of the place",
		"Adresse":       "Address",
		"Telefonnummer": "Phone number",
		"Emoji":         "Emoji",
		"Wählen Sie im Verlauf mit „Antworten“ die Nachricht, auf die Sie reagieren.": "Choose the message to react to with “Reply” in the thread.",
		"vom Telefon gesendet":                                                  "sent from the phone",
		"aus dem früheren Chatverlauf":                                          "from the earlier chat history",
		"bearbeitet":                                                            "edited",
		"Auf dem Telefon wurde eine Nachricht bearbeitet.":                      "A message was edited on the phone.",
		"Auf dem Telefon wurde eine Nachricht gelöscht.":                        "A message was deleted on the phone.",
		"Datei aus dem früheren Chatverlauf (von WhatsApp nicht mitgeliefert).": "File from the earlier chat history (not supplied by WhatsApp).",
		"Diese Nachricht wurde gelöscht.":                                       "This message was deleted.",
		"Gruppe „%s“ erstellt. Einladungslink: %s":                              "Group “%s” created. Invite link: %s",
		"Gruppe gelöscht.":                                                      "Group deleted.",
		"Beigetreten: %s":                                                       "Joined: %s",
		"Ausgetreten oder entfernt: %s":                                         "Left or removed: %s",
		"Neue Beitrittsanfrage.":                                                "New request to join.",
		"Beitrittsanfrage zurückgezogen.":                                       "Request to join withdrawn.",
		"Gruppe von WhatsApp gesperrt.":                                         "Group suspended by WhatsApp.",
		"Sperre der Gruppe aufgehoben.":                                         "Group suspension lifted.",
		"Gruppenname geändert: „%s“":                                            "Group name changed: “%s”",
		"Gruppeneinstellungen geändert.":                                        "Group settings changed.",
		"In Gruppen erlaubt WhatsApp keine Knöpfe, Listen, Reaktionen oder Standortanfragen.": "WhatsApp allows no buttons, lists, reactions or location requests in groups.",
		"Bitte wählen Sie, was gesendet werden soll.":                                         "Please choose what to send.",
		"%s: höchstens %d Zeichen (Vorgabe von WhatsApp).":                                    "%s: at most %d characters (WhatsApp's rule).",
		"%s: höchstens %d (Vorgabe von WhatsApp).":                                            "%s: at most %d (WhatsApp's rule).",
		"%s fehlt.":                                   "%s is missing.",
		"%s: Jeder Eintrag muss anders lauten.":       "%s: every entry must be different.",
		"%s: Bitte mindestens einen Eintrag angeben.": "%s: please give at least one entry.",
		"%s ist ungültig.":                            "%s is not valid.",
		"Knopf %d":                                    "Button %d",
		"Knöpfe":                                      "Buttons",
		"Beschreibung in Zeile %d":                    "Description in row %d",
		"Zeile %d":                                    "Row %d",
		"Abschnitt %d":                                "Section %d",
		"Titel von Abschnitt %d":                      "Title of section %d",
		"Text":                                        "Text",
		"Kopfzeile":                                   "Header",
		"Fußzeile":                                    "Footer",
		"Abschnitte":                                  "Sections",
		"Zeilen":                                      "Rows",
		"Koordinaten":                                 "Coordinates",
		"Name":                                        "Name",
		"Nachricht, auf die reagiert wird":            "Message reacted to",
		"Teilnehmende":                                "Participants",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}

// joinNames lists names for a line of text.
func joinNames(names []string) string {
	out := ""
	for i, n := range names {
		if i > 0 {
			out += ", "
		}
		out += n
	}
	return out
}
