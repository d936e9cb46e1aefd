package web

// English for the campaign form's segment builder and parameter files.
func init() {
	for de, en := range map[string]string{
		"Parameter, einer pro Zeile ({{name}} = Profilname, {{field:schlüssel}} = Kontaktfeld, {{1}} = Spalte 1 der Parameter-Datei)": "Parameters, one per line ({{name}} = profile name, {{field:key}} = contact field, {{1}} = column 1 of the parameter file)",
		"Kontaktfelder:": "Contact fields:",
		"Zielgruppe: Kontakt-Labels (Adressbuch, eines davon)":        "Audience: contact labels (address book, any of them)",
		"Zielgruppe: Kontaktfelder (leer = egal, alle müssen passen)": "Audience: contact fields (empty = any; all must match)",
		"Parameter pro Empfänger (CSV: Nummer;1;2 …)":                 "Parameters per recipient (CSV: number;1;2 …)",
		"Diese Zeilen der Datei werden nicht verwendet:":              "These rows of the file are not used:",
		"Zeile": "Line",
		"Grund": "Reason",
		"Parameter-Datei hochladen (CSV aus Excel: Nummer und eine Spalte je Vorlagen-Variable)": "Upload a parameter file (CSV from Excel: number and one column per template variable)",
		"Datei prüfen":                 "Check file",
		"Bitte eine CSV-Datei wählen.": "Please choose a CSV file.",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
