package web

// English for the routing rules on the automations page.
func init() {
	for de, en := range map[string]string{
		"Zuweisung": "Routing",
		"Regeln für neue Unterhaltungen, von oben nach unten: die erste Regel, deren Bedingungen alle zutreffen, entscheidet.": "Rules for new conversations, top to bottom: the first rule whose conditions all hold decides.",
		"Noch keine Regel.":                   "No rule yet.",
		"Bedingungen":                         "Conditions",
		"Aktionen":                            "Actions",
		"Reihenfolge":                         "Order",
		"Nach oben":                           "Move up",
		"Löschen":                             "Delete",
		"Regel hinzufügen":                    "Add rule",
		"z. B. Rechnungen":                    "e.g. invoices",
		"Wenn (alle angegebenen Bedingungen)": "If (all given conditions)",
		"Stichwörter":                         "Keywords",
		"Eines davon als ganzes Wort, durch Komma getrennt.": "Any of them as a whole word, separated by commas.",
		"Labels": "Labels",
		"Die Unterhaltung hat alle diese Labels.": "The conversation has all these labels.",
		"Sprache":                           "Language",
		"egal":                              "any",
		"Deutsch":                           "German",
		"Englisch":                          "English",
		"Kontaktfeld":                       "Contact field",
		"Wert":                              "Value",
		"Dann":                              "Then",
		"kein Team":                         "no team",
		"Verteilung":                        "Distribution",
		"reihum":                            "round robin",
		"an die am wenigsten Ausgelasteten": "least busy",
		"Person (E-Mail)":                   "Agent (e-mail)",
		"Geht vor dem Team.":                "Wins over the team.",
		"Labels setzen":                     "Add labels",
		"Priorität":                         "Priority",
		"unverändert":                       "unchanged",
		"niedrig":                           "low",
		"normal":                            "normal",
		"hoch":                              "high",
		"dringend":                          "urgent",
		"immer":                             "always",
		"Person":                            "Agent",
		"Aktion":                            "Action",
		"Regel %d, %s: ":                    "Rule %d, %s: ",
		"Regel %d":                          "Rule %d",
		"Regel hinzugefügt.":                "Rule added.",
		"Regel gelöscht.":                   "Rule deleted.",
		"Regel nach oben verschoben.":       "Rule moved up.",
		"Regel %d bearbeiten":               "Edit rule %d",
		"Regel speichern":                   "Save rule",
		"Regel geändert.":                   "Rule changed.",
		"%d wartende Unterhaltungen wurden Ihnen zugewiesen.": "%d waiting conversations were assigned to you.",
		"Eine wartende Unterhaltung wurde Ihnen zugewiesen.":  "One waiting conversation was assigned to you.",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
