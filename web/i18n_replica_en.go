package web

// English for setting the off-site replica up on the settings page.
func init() {
	for de, en := range map[string]string{
		"Nicht eingerichtet: Geht dieser Server verloren, ist alles seit der letzten kopierten Sicherung verloren. Richten Sie die Replikation unten ein; die Anleitung steht im Kapitel „Off-site-Replikation“ der Dokumentation.": "Not set up: if this server is lost, everything since the last copied backup is lost. Set replication up below; the steps are in the documentation's chapter \"Off-site replication\".",
		"Einrichten":                     "Set up",
		"Als Datei herunterladen":        "Download as a file",
		"Aufbewahrung im Ziel (Stunden)": "History kept in the target (hours)",
		"Bitte bestätigen Sie, dass Sie den Schlüssel außerhalb dieses Servers gespeichert haben. Ohne ihn ist die Replik nicht lesbar.": "Please confirm that you stored the key outside this server. Without it the replica cannot be read.",
		"Bitte erzeugen Sie zuerst einen Schlüssel („Schlüssel erzeugen“) oder wählen Sie ausdrücklich „ohne Verschlüsselung“.":          "Please create a key first (\"Create key\") or choose \"without encryption\" explicitly.",
		"Bitte geben Sie das Ziel an, z. B. s3://bucket/pforte?endpoint=https://… oder file:///mnt/replik.":                              "Please give the target, e.g. s3://bucket/pforte?endpoint=https://… or file:///mnt/replica.",
		"Das Ziel ist nicht erreichbar. Bitte prüfen Sie Adresse und Endpunkt. (%s)":                                                     "The target is unreachable. Please check the address and the endpoint. (%s)",
		"Das Ziel ist ungültig: %s": "The target is not valid: %s",
		"Der Schlüssel ist nicht lesbar: %s. Bitte erzeugen Sie einen neuen.": "The key cannot be read: %s. Please create a new one.",
		"Der Schlüssel konnte nicht erzeugt werden: %s":                       "The key could not be created: %s",
		"Die Aufbewahrung im Ziel muss zwischen 1 und %d Stunden liegen.":     "The history kept in the target must be between 1 and %d hours.",
		"Die Sperre im Bucket (--replica-lease) ist an.":                      "The lease in the bucket (--replica-lease) is on.",
		"Die Sperre im Bucket, die zwei gleichzeitig sendende Server verhindert, wird nur über den Startparameter --replica-lease eingestellt: Pforte muss sie halten, bevor es sendet.": "The lease in the bucket, which keeps two servers from sending at once, is set with the start parameter --replica-lease only: Pforte must hold it before it sends.",
		"Die Verbindungsprüfung ist fehlgeschlagen: %s":                                                            "The connection check failed: %s",
		"Diesen Bucket gibt es beim Anbieter nicht. Bitte prüfen Sie Bucket-Namen und Endpunkt. (%s)":              "The provider has no such bucket. Please check the bucket name and the endpoint. (%s)",
		"Ein neuer Schlüssel wartet auf Ihre Bestätigung.":                                                         "A new key waits for your confirmation.",
		"Für ein S3-Ziel brauchen Sie die Zugangsschlüssel-ID und den geheimen Schlüssel Ihres Speicheranbieters.": "An S3 target needs your storage provider's access key id and secret key.",
		"Geheimer S3-Schlüssel": "S3 secret key",
		"Gespeichert (wird nicht angezeigt). Leer lassen, um es zu behalten.":                                                     "Saved (not shown). Leave empty to keep it.",
		"Gespeichert (wird nicht angezeigt). Leer lassen, um ihn zu behalten.":                                                    "Saved (not shown). Leave empty to keep it.",
		"Gespeichert, aber die Replikation ließ sich nicht starten: %s":                                                           "Saved, but replication could not be started: %s",
		"Ich habe den Schlüssel außerhalb dieses Servers gespeichert":                                                             "I have stored the key outside this server",
		"Mir ist bewusst, dass der Speicheranbieter ohne Verschlüsselung alle Nachrichten, Telefonnummern und Medien lesen kann.": "I understand that without encryption the storage provider can read all messages, phone numbers and media.",
		"Mit eigenem Schlüssel verschlüsseln (empfohlen)":                                                                         "Encrypt with our own key (recommended)",
		"Neuer Schlüssel – er wird nur jetzt angezeigt.":                                                                          "New key – it is shown only now.",
		"Off-site-Replikation einschalten":                                                                                        "Switch off-site replication on",
		"Ohne Verschlüsselung":                                                                                                    "Without encryption",
		"Ohne Verschlüsselung kann der Speicheranbieter alle Nachrichten und Medien lesen. Bitte bestätigen Sie das ausdrücklich oder erzeugen Sie einen Schlüssel.": "Without encryption the storage provider can read all messages and media. Please confirm this explicitly or create a key.",
		"S3-Zugangsschlüssel-ID":          "S3 access key id",
		"SFTP-Passwort (nur für sftp://)": "SFTP password (sftp:// only)",
		"Schlüssel erzeugen":              "Create key",
		"Schlüssel in Gebrauch: %s.":      "Key in use: %s.",
		"Speichern Sie ihn außerhalb dieses Servers und außerhalb des Buckets (Passwort-Manager, ausgedruckt im Tresor): Ohne ihn ist die Replik nicht lesbar, und wer ihn hat, kann sie lesen.": "Store it outside this server and outside the bucket (password manager, printed in the safe): without it the replica cannot be read, and whoever has it can read it.",
		"Verbindung geprüft: Schreiben, Lesen und Löschen im Ziel haben geklappt. Noch nichts gespeichert.":                                                                                      "Connection checked: writing, reading and deleting in the target worked. Nothing saved yet.",
		"Verbindung prüfen": "Check connection",
		"Verschlüsselung":   "Encryption",
		"Zugriff verweigert: Bitte prüfen Sie die Zugangsdaten (S3-Schlüssel bzw. SFTP-Passwort oder SSH-Schlüssel) und die Rechte am Ziel. (%s)":                         "Access denied: please check the credentials (S3 keys, or SFTP password or SSH key) and the permissions at the target. (%s)",
		"Der SFTP-Server zeigt einen anderen Host-Schlüssel als den in der URL (host_key). Verbunden wurde nicht. Bitte prüfen Sie den Fingerabdruck beim Anbieter. (%s)": "The SFTP server shows a host key other than the one in the URL (host_key). No connection was made. Please check the fingerprint with your provider. (%s)",
		"s3://bucket/pfad?endpoint=…&region=… (S3-kompatibel), sftp://benutzer@host/pfad?host_key=… oder file:///pfad (eingehängtes Netzlaufwerk).":                       "s3://bucket/path?endpoint=…&region=… (S3-compatible), sftp://user@host/path?host_key=… or file:///path (a mounted network drive).",
		"Öffentlicher Schlüssel: %s":                                                          "Public key: %s",
		"Die Verschlüsselung ist über Startparameter festgelegt.":                             "Encryption is fixed by start parameters.",
		"Off-site-Replikation gespeichert und ausgeschaltet.":                                 "Off-site replication saved and switched off.",
		"Off-site-Replikation gespeichert; der Replikator läuft mit den neuen Einstellungen.": "Off-site replication saved; the replicator runs with the new settings.",
	} {
		if _, ok := english[de]; !ok {
			english[de] = en
		}
	}
}
