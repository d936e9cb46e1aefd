package web

// English for teams, availability and the team filter (routing).
func init() {
	for de, en := range map[string]string{
		"Team":          "Team",
		"Teams":         "Teams",
		"Alle Teams":    "All teams",
		"Verfügbarkeit": "Availability",
		"Sie sind verfügbar: Zuweisungsregeln geben Ihnen neue Unterhaltungen.": "You are available: routing rules give you new conversations.",
		"Sie sind abwesend: Zuweisungsregeln übergehen Sie.":                    "You are away: routing rules pass you over.",
		"Auf abwesend stellen":      "Set to away",
		"Auf verfügbar stellen":     "Set to available",
		"Sie sind jetzt abwesend.":  "You are away now.",
		"Sie sind jetzt verfügbar.": "You are available now.",
		"Teams sind Gruppen von Mitarbeitenden. Zuweisungsregeln geben neue Unterhaltungen einem Team; im Posteingang filtern Sie nach Team.": "Teams are groups of agents. Routing rules give new conversations to a team; the inbox filters by team.",
		"Neues Team":           "New team",
		"Anlegen":              "Create",
		"Mitglied":             "Member",
		"Name":                 "Name",
		"verfügbar":            "available",
		"abwesend":             "away",
		"Mitglieder speichern": "Save members",
		"Team löschen":         "Delete team",
		"Der Teamname muss 1 bis 60 Zeichen haben.":            "A team name has 1 to 60 characters.",
		"Ein Team mit diesem Namen gibt es schon.":             "A team of this name exists already.",
		"Team oder Person nicht gefunden; nichts gespeichert.": "Team or person not found; nothing saved.",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
