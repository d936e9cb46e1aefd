package web

// English for re-authentication on the account page and the login throttle.
func init() {
	for de, en := range map[string]string{
		"Das aktuelle Passwort oder der Bestätigungscode stimmt nicht.": "The current password or the confirmation code is wrong.",
		"Bitte geben Sie Ihr aktuelles Passwort ein.":                   "Please enter your current password.",
		"Das ist schon Ihre E-Mail-Adresse.":                            "That is your e-mail address already.",
		"E-Mail-Adresse geändert. Andere Geräte wurden abgemeldet.":     "E-mail address changed. Other devices were logged out.",
		"E-Mail-Adresse ändern":                                         "Change e-mail address",
		"Neue E-Mail-Adresse":                                           "New e-mail address",
		"Aus der Authenticator-App, oder ein Wiederherstellungscode.":   "From the authenticator app, or a recovery code.",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
