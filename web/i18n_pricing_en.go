package web

// English for the pricing line under outbound messages.
func init() {
	for de, en := range map[string]string{
		"Typ":                            "Type",
		"Preismodell":                    "Pricing model",
		"kostenpflichtig":                "charged",
		"kostenlos":                      "free",
		"kein Preis in der Preistabelle": "no price in the rate table",
		"%s je Nachricht (+%s, Preistabelle vom %s)": "%s per message (+%s, rate table of %s)",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
