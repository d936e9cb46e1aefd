package web

// English for the alarm texts (alarms.go): one entry per German format,
// %s for each of its verbs, in the same order.
func init() {
	for de, en := range map[string]string{
		"Meta verweigert das Lesen der Nummer %s (fehlende Berechtigung): %s":  "Meta refuses to read number %s (missing permission): %s",
		"Meta erlaubt das Lesen der Nummern wieder.":                           "Meta allows reading the numbers again.",
		"Qualitätsbewertung der Nummer %s ist wieder GREEN.":                   "Quality rating of number %s is GREEN again.",
		"Qualitätsbewertung der Nummer %s ist %s.":                             "Quality rating of number %s is %s.",
		"Nachrichtenlimit der Nummer %s gesenkt: %s → %s.":                     "Messaging limit of number %s lowered: %s → %s.",
		"Nachrichtenlimit der Nummer %s wieder erhöht: %s.":                    "Messaging limit of number %s raised again: %s.",
		"Nachrichtenlimit der Nummer %s erhöht: %s.":                           "Messaging limit of number %s raised: %s.",
		"Meta hat die Nummer %s wegen schlechter Qualität markiert (FLAGGED).": "Meta flagged number %s for low quality (FLAGGED).",
		"Meta hat die Markierung der Nummer %s aufgehoben.":                    "Meta lifted the flag on number %s.",
		"Meta sperrt das WhatsApp-Konto %s (%s %s).":                           "Meta disables WhatsApp account %s (%s %s).",
		"Meta hat das WhatsApp-Konto %s wieder freigegeben.":                   "Meta re-enabled WhatsApp account %s.",
		"Die Einschränkung des WhatsApp-Kontos %s ist aufgehoben.":             "The restriction of WhatsApp account %s is lifted.",
		"Meta schränkt das WhatsApp-Konto %s ein: %s.":                         "Meta restricts WhatsApp account %s: %s.",
		"Meta meldet einen Richtlinienverstoß des WhatsApp-Kontos %s: %s.":     "Meta reports a policy violation by WhatsApp account %s: %s.",
		"Meta hat die Vorlage %s gestoppt: %s.":                                "Meta stopped template %s: %s.",
		"Die Vorlage %s ist wieder nutzbar (%s).":                              "Template %s can be used again (%s).",
		"Seit %s kam kein Webhook von Meta (üblich: höchstens %s).":            "No webhook from Meta for %s (usually at most %s).",
		"Webhooks von Meta kommen wieder an.":                                  "Webhooks from Meta arrive again.",
		"Die Festplatte des Datenverzeichnisses ist fast voll: %s %% frei.":    "The data directory's disk is almost full: %s %% free.",
		"Auf der Festplatte des Datenverzeichnisses ist wieder genug Platz.":   "The data directory's disk has enough space again.",
		"Die Erneuerung des TLS-Zertifikats schlägt fehl: %s":                  "Renewing the TLS certificate fails: %s",
		"Das TLS-Zertifikat wurde erneuert.":                                   "The TLS certificate was renewed.",
		"Die Datensicherung schlägt fehl: %s":                                  "The backup fails: %s",
		"Die Datensicherung läuft wieder.":                                     "The backup works again.",
		"Behoben: %s":                                                          "Resolved: %s",
		"Off-site-Replikation: %s":                                             "Off-site replication: %s",
	} {
		english[de] = en
	}
}
