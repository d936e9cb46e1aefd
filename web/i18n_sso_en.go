package web

// English for single sign-on (OIDC) and passkeys.
func init() {
	for de, en := range map[string]string{
		// Audit actions (auditActions).
		"Anmeldung über Single Sign-on":                                "Login via single sign-on",
		"Konto mit Single-Sign-on-Identität verknüpft":                 "Account linked to a single sign-on identity",
		"Konto bei der ersten Single-Sign-on-Anmeldung angelegt":       "Account created at its first single sign-on login",
		"Rolle aus der Gruppenzuordnung des Anmeldedienstes geändert":  "Role changed by the identity provider's group mapping",
		"Single-Sign-on-Anmeldung abgelehnt":                           "Single sign-on login refused",
		"Sitzung beendet: Anmeldedienst lehnt das Konto ab":            "Session ended: the identity provider refuses the account",
		"Single-Sign-on-Einstellungen geändert":                        "Single sign-on settings changed",
		"Abmeldung auch beim Anmeldedienst":                            "Logout at the identity provider too",
		"Passwort-Anmeldung abgelehnt (nur noch Single Sign-on)":       "Password login refused (single sign-on only)",
		"Passkey hinzugefügt":                                          "Passkey added",
		"Passkey entfernt":                                             "Passkey removed",
		"Passkey abgelehnt: Signaturzähler rückwärts (möglicher Klon)": "Passkey refused: signature counter went backwards (possible clone)",
		"Passkey-Anmeldung fehlgeschlagen":                             "Passkey login failed",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
