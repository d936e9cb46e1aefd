package web

// English for campaigns and double opt-in.
func init() {
	for de, en := range map[string]string{
		"Kampagne angelegt":                "Campaign created",
		"Kampagne gestartet":               "Campaign started",
		"Kampagne angehalten":              "Campaign paused",
		"Kampagne automatisch angehalten":  "Campaign paused automatically",
		"Kampagne fortgesetzt":             "Campaign resumed",
		"Kampagne abgebrochen":             "Campaign cancelled",
		"Kampagne abgeschlossen":           "Campaign finished",
		"Opt-in-Einstieg gespeichert":      "Opt-in entry point saved",
		"Kampagnen-Einstellungen geändert": "Campaign settings changed",
		"Kampagnen (abgeschlossen)":        "Campaigns (finished)",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
