package web

// English for refusals of a send from a stale page.
func init() {
	for de, en := range map[string]string{
		"Nicht gesendet: Diese Unterhaltung gehört nicht mehr zu der Person, für die die Nachricht geschrieben wurde (die Seite ist veraltet, die Person wurde vielleicht gelöscht). Bitte laden Sie die Seite neu und prüfen Sie den Empfänger.": "Not sent: this conversation no longer belongs to the person the message was written for (the page is out of date; the person may have been erased). Please reload the page and check the recipient.",
	} {
		english[de] = en
	}
}
