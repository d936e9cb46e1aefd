package web

// English for the panel's answers to sends the outbox refused.
func init() {
	for de, en := range map[string]string{
		"Nicht gesendet: Die Absendernummer dieser Unterhaltung ist keine Geschäftsnummer dieses Pforte. Fügen Sie sie unter Einstellungen hinzu.": "Not sent: the sending number of this conversation is not one of this Pforte's business numbers. Add it under Settings.",
		"Nicht gesendet: Meta würde diese Nachricht nicht annehmen (%s).":                                                                          "Not sent: Meta would not accept this message (%s).",
	} {
		english[de] = en
	}
}
