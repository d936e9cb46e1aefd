package web

// English for the address book: contacts, custom fields, labels, import
// and export.
func init() {
	for de, en := range map[string]string{
		// Audit.
		"Kontakt angelegt":         "Contact created",
		"Kontakt geändert":         "Contact changed",
		"Kontakte zusammengeführt": "Contacts merged",
		"Kontakte importiert":      "Contacts imported",
		"Kontaktfeld angelegt":     "Contact field created",
		"Kontaktfeld geändert":     "Contact field changed",
		"Kontaktfeld gelöscht":     "Contact field deleted",
		"Telefonnummer erfragt":    "Phone number requested",
	} {
		english[de] = en
	}
}
