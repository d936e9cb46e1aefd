package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ProcessingRecords is a starting point for the company's record of
// processing activities (Art. 30 GDPR, "Verzeichnis von
// Verarbeitungstätigkeiten"), filled from the live configuration.
type ProcessingRecords struct {
	GeneratedAt time.Time            `json:"generated_at"`
	Controller  string               `json:"controller"`
	Activities  []ProcessingActivity `json:"activities"`
	Processors  []Processor          `json:"processors"`
	Measures    []string             `json:"technical_and_organisational_measures"`
	Note        string               `json:"note"`
}

// ProcessingActivity is one purpose for which Pforte processes data.
type ProcessingActivity struct {
	Name           string   `json:"name"`
	Purpose        string   `json:"purpose"`
	LegalBasis     string   `json:"legal_basis"`
	Subjects       string   `json:"data_subjects"`
	DataCategories []string `json:"data_categories"`
	Recipients     []string `json:"recipients"`
	ThirdCountry   string   `json:"third_country_transfer"`
	Retention      []string `json:"retention"`
	Location       string   `json:"location"`
}

// Processor is a party processing data on the company's behalf.
type Processor struct {
	Name string `json:"name"`
	Role string `json:"role"`
}

// ProcessingContext is what the store cannot know itself.
type ProcessingContext struct {
	Now          time.Time
	Controller   string // the company's name, if known
	Host         string // where Pforte runs, e.g. the domain
	BackupKeep   int
	BackupMaxAge time.Duration
	// Replica is the off-site replica's target (no credentials) and
	// ReplicaRetention its history; empty when there is none.
	Replica          string
	ReplicaRetention time.Duration
	ReplicaEncrypted bool
	// ReplicaActive, when set, replaces the three fields above with the
	// replica in force now (it may be switched on in the settings page).
	ReplicaActive func() (target string, retention time.Duration, encrypted bool)
}

// RecordsOfProcessing builds the record from the live retention settings.
func (s *Store) RecordsOfProcessing(ctx context.Context, pc ProcessingContext) (*ProcessingRecords, error) {
	ps, err := s.policySet(ctx)
	if err != nil {
		return nil, err
	}
	days := func(class string) string {
		d := ps.def[class]
		if d == 0 {
			return "unbegrenzt (keine Löschfrist eingestellt) / unlimited"
		}
		s := fmt.Sprintf("%d Tage / days", d)
		if n := len(ps.over[class]); n > 0 {
			s += fmt.Sprintf(" (abweichend für %d Rufnummer(n) / overridden for %d number(s))", n, n)
		}
		return s
	}
	if pc.Now.IsZero() {
		pc.Now = time.Now()
	}
	if pc.Controller == "" {
		pc.Controller = "(Name und Anschrift des Unternehmens eintragen / enter the company's name and address)"
	}
	host := "dem eigenen Server des Unternehmens / the company's own server"
	if pc.Host != "" {
		host += " (" + pc.Host + ")"
	}
	meta := "Meta Platforms Ireland Ltd. (WhatsApp Business Cloud API, Auftragsverarbeiter / processor)"
	thirdCountry := "USA möglich über Meta Platforms Inc. (EU-U.S. Data Privacy Framework, Standardvertragsklauseln); " +
		"mit Metas Einstellung \"Local Storage\" werden Inhalte in der EU gespeichert, können aber bis zu 60 Minuten anderswo verarbeitet werden / " +
		"USA possible via Meta Platforms Inc. (EU-U.S. DPF, SCCs); with Meta's local storage setting content is stored at rest in the EU but may be processed elsewhere for up to 60 minutes"
	backups := "keine geplanten Sicherungen / no scheduled backups"
	if pc.BackupKeep > 0 || pc.BackupMaxAge > 0 {
		backups = fmt.Sprintf("Sicherungen: höchstens %d Stück, höchstens %d Tage alt; Löschungen werden bei jeder Wiederherstellung erneut angewandt / "+
			"backups: at most %d, at most %d days old; erasures are re-applied on every restore",
			pc.BackupKeep, int(pc.BackupMaxAge.Hours()/24), pc.BackupKeep, int(pc.BackupMaxAge.Hours()/24))
	}
	campaigns, err := s.campaignActivity(ctx, days(RetainCampaigns))
	if err != nil {
		return nil, err
	}
	local := "auf " + host + "; Meta hält Nachrichteninhalte vorübergehend bis zu 30 Tage / on " + host + "; Meta keeps message content transiently for up to 30 days"
	rec := &ProcessingRecords{
		GeneratedAt: pc.Now.UTC(),
		Controller:  pc.Controller,
		Activities: []ProcessingActivity{
			{
				Name:       "Kundenkommunikation über WhatsApp / customer communication via WhatsApp",
				Purpose:    "Anfragen von Kunden und Interessenten beantworten, Aufträge abwickeln / answer enquiries, handle orders",
				LegalBasis: "Art. 6 Abs. 1 lit. b DSGVO (Vertrag, vorvertragliche Maßnahmen); lit. f (berechtigtes Interesse an der Beantwortung) / Art. 6(1)(b), (f) GDPR",
				Subjects:   "Kunden und Interessenten, die das Unternehmen über WhatsApp kontaktieren / customers and prospects writing via WhatsApp",
				DataCategories: []string{"Telefonnummer, WhatsApp-Nutzerkennung, Profilname / phone number, WhatsApp user id, profile name",
					"Nachrichteninhalte, Dateien (Bilder, Dokumente, Sprachnachrichten) / message contents and files",
					"Zeitpunkte, Zustellstatus / timestamps, delivery receipts"},
				Recipients:   []string{"Mitarbeitende mit Zugang zum Posteingang / staff with inbox access", meta},
				ThirdCountry: thirdCountry,
				Retention: []string{"Nachrichten / messages: " + days(RetainMessages), "Dateien / media: " + days(RetainMedia),
					"geschlossene Unterhaltungen / closed conversations: " + days(RetainClosedConversations), backups,
					"ausgenommen: gesetzliche Aufbewahrung (Legal Hold) / except: legal holds"},
				Location: local,
			},
			{
				Name:           "Werbliche Nachrichten / marketing messages",
				Purpose:        "Versand von Werbevorlagen nur an Kunden mit Einwilligung / marketing templates only to customers who consented",
				LegalBasis:     "Art. 6 Abs. 1 lit. a DSGVO (Einwilligung), § 7 UWG; Nachweis nach Art. 7 Abs. 1 / consent, proof under Art. 7(1)",
				Subjects:       "Kunden mit Einwilligung / customers who opted in",
				DataCategories: []string{"Einwilligungen und Widerrufe mit Zeitpunkt, Quelle und Nachweis / opt-ins and opt-outs with time, source and evidence"},
				Recipients:     []string{meta},
				ThirdCountry:   thirdCountry,
				Retention:      []string{"solange der Kontakt besteht (Nachweispflicht) / as long as the contact exists (proof of consent)"},
				Location:       local,
			},
			campaigns,
			// The template catalogue (table templates) is kept without a time
			// limit but is no activity here: it holds only names, texts and
			// categories the business wrote, no personal data.
			{
				Name:           "Empfangsnachweise der Webhooks / raw webhook deliveries",
				Purpose:        "Nachweis und Fehleranalyse des Nachrichtenempfangs / proof and troubleshooting of message receipt",
				LegalBasis:     "Art. 6 Abs. 1 lit. f DSGVO / Art. 6(1)(f) GDPR",
				Subjects:       "wie oben / as above",
				DataCategories: []string{"die von Meta gesendeten Rohdaten (enthalten Nachrichteninhalte) / raw data sent by Meta (includes contents)"},
				Recipients:     []string{"Administratoren / administrators"},
				ThirdCountry:   "nein / no",
				Retention:      []string{days(RetainDeliveries)},
				Location:       "auf " + host,
			},
			{
				Name:           "Sichere Links für sensible Angaben / secure links for sensitive data",
				Purpose:        "Entgegennahme sensibler Angaben (z. B. IBAN, Ausweis) außerhalb von WhatsApp / receive sensitive data outside WhatsApp",
				LegalBasis:     "Art. 6 Abs. 1 lit. b DSGVO; für besondere Kategorien Art. 9 Abs. 2 lit. a / Art. 6(1)(b); Art. 9(2)(a) for special categories",
				Subjects:       "Kunden, denen ein Link geschickt wurde / customers sent a link",
				DataCategories: []string{"die Antwort und hochgeladene Dateien / the answer and uploaded files"},
				Recipients:     []string{"Mitarbeitende mit Zugang zum Posteingang / staff with inbox access"},
				ThirdCountry:   "nein, die Antwort läuft nicht über Meta / no, the answer does not pass through Meta",
				Retention:      []string{"wie Nachrichten / like messages: " + days(RetainMessages), "Links: " + days(RetainSecureLinks)},
				Location:       "auf " + host,
			},
			{
				Name:           "Protokollierung / audit trail",
				Purpose:        "Nachweis der Verarbeitung, Erkennung von Missbrauch / accountability, detecting misuse (Art. 5(2), 32, 33)",
				LegalBasis:     "Art. 6 Abs. 1 lit. c und f DSGVO / Art. 6(1)(c), (f) GDPR",
				Subjects:       "Mitarbeitende, Kunden (nur interne Kennungen) / staff, customers (internal ids only)",
				DataCategories: []string{"wer hat wann was getan, ohne Nachrichteninhalte / who did what when, never contents"},
				Recipients:     []string{"Administratoren, Prüfer / administrators, auditors"},
				ThirdCountry:   "nein / no",
				Retention:      []string{days(RetainAudit)},
				Location:       "auf " + host,
			},
			{
				Name:       "Automatische Antworten / automatic replies",
				Purpose:    "Begrüßung mit Datenschutzhinweis (Art. 13), Abwesenheits- und Warte-Antworten nach Geschäftszeiten / welcome with the privacy notice (Art. 13), away and waiting replies by business hours",
				LegalBasis: "Art. 6 Abs. 1 lit. b und f DSGVO; Art. 13 (Informationspflicht) / Art. 6(1)(b), (f); Art. 13 GDPR",
				Subjects:   "Kunden, die schreiben (nur wenn eine Antwort eingeschaltet ist) / customers who write (only when a reply is on)",
				DataCategories: []string{"Profilname (Variable {{name}}), Zeitpunkt und Regel jeder automatischen Nachricht; keine Profilbildung, keine Entscheidung nach Art. 22 / " +
					"profile name, time and rule of each automatic message; no profiling, no Art. 22 decision"},
				Recipients:   []string{meta},
				ThirdCountry: thirdCountry,
				Retention:    []string{"wie Nachrichten / like messages: " + days(RetainMessages)},
				Location:     local,
			},
			// The address book (contactbook.go): what the company adds to a
			// contact by hand, by API or by CSV import.
			{
				Name:       "Adressbuch / address book",
				Purpose:    "Kundenkontakte pflegen, filtern und gezielt anschreiben / keep, filter and address customer contacts",
				LegalBasis: "Art. 6 Abs. 1 lit. b und f DSGVO; importierte Einwilligungen Art. 6 Abs. 1 lit. a, Nachweis Art. 7 Abs. 1 / Art. 6(1)(b), (f); imported consent Art. 6(1)(a), proof Art. 7(1)",
				Subjects:   "Kunden und Interessenten im Adressbuch / customers and prospects in the address book",
				DataCategories: []string{"Name, Telefonnummer, E-Mail-Adresse, Firma, Notiz / name, phone number, e-mail address, company, note",
					"eigene Felder, die das Unternehmen festlegt, und Labels / custom fields the company defines, and labels",
					"importierte Einwilligungen mit Dateiname und Zeile als Nachweis / imported consent with file name and line as evidence"},
				Recipients:   []string{"Mitarbeitende mit Zugang zu den Kontakten / staff with access to contacts", "Systeme mit API-Schlüssel / systems with an API key"},
				ThirdCountry: "nein; nur die Bitte um die Telefonnummer (request_contact_info) geht über Meta / no; only the request for the phone number goes through Meta",
				Retention: []string{"solange der Kontakt besteht; gelöscht mit dem Kontakt (Art. 17), einschließlich Feldwerten, Labels und Suchindex / as long as the contact exists; erased with it, including field values, labels and search index",
					"Kontakte ohne Unterhaltung, Einwilligung und Sperre: " + days(RetainClosedConversations) + " nach der letzten Änderung / contacts without conversation, consent or hold: after their last change",
					"hochgeladene Importdateien: nach dem Import, spätestens nach einer Stunde / uploaded import files: after the import, within an hour at most"},
				Location: local,
			},
			{
				Name: "Koexistenz mit der WhatsApp-Business-App und Gruppen / coexistence with the WhatsApp Business app, and groups",
				Purpose: "Vom Telefon gesendete Nachrichten und der frühere Chatverlauf erscheinen im Posteingang; Gruppenunterhaltungen / " +
					"messages sent from the phone and the earlier chat history appear in the inbox; group conversations",
				LegalBasis: "Art. 6 Abs. 1 lit. b und f DSGVO / Art. 6(1)(b), (f) GDPR",
				Subjects:   "Kunden, Gruppenmitglieder / customers, group members",
				DataCategories: []string{"Nachrichten vom Telefon und aus dem Chatverlauf (bis 6 Monate zurück), Namen aus dem Adressbuch des Telefons nur für bekannte Kunden, " +
					"Gruppenname und Mitglieder, frühere Fassungen bearbeiteter oder gelöschter Nachrichten / messages from the phone and the chat history (up to 6 months back), " +
					"address-book names for known customers only, group subject and members, earlier versions of edited or deleted messages"},
				Recipients:   []string{"Mitarbeitende mit Zugang zum Posteingang / staff with inbox access"},
				ThirdCountry: "wie Kundenkommunikation; die App auf dem Telefon hält die Chats weiterhin selbst / as customer communication; the app on the phone still holds the chats itself",
				Retention:    []string{days(RetainMessages), "Verlaufsteile bis zur Übernahme (Minuten), dann nur Zählerstände / history chunks until imported (minutes), then counters only"},
				Location:     "auf " + host,
			},
			// Employees' sign-in (sso.go): the panel's own users, not customers.
			{
				Name:       "Anmeldung der Mitarbeitenden (Passwort, Single Sign-on, Passkeys) / staff sign-in (password, single sign-on, passkeys)",
				Purpose:    "Zugang zum Posteingang nur für berechtigte Mitarbeitende / inbox access for authorised staff only",
				LegalBasis: "§ 26 BDSG bzw. Art. 88 DSGVO, Art. 6 Abs. 1 lit. b und c, Art. 32 DSGVO / employment, Art. 6(1)(b), (c), Art. 32 GDPR",
				Subjects:   "Mitarbeitende mit Zugang zum Panel / staff with panel access",
				DataCategories: []string{"E-Mail-Adresse, Name, Rolle, Passwort-Hash, TOTP-Geheimnis (versiegelt) / e-mail, name, role, password hash, TOTP secret (sealed)",
					"beim Single Sign-on: Aussteller und Kennung (sub) des Firmenkontos, versiegelte Tokens der Sitzung / with single sign-on: issuer and subject of the company account, sealed session tokens",
					"Passkeys: öffentlicher Schlüssel, Name, Signaturzähler / passkeys: public key, name, signature counter"},
				Recipients:   []string{"der Identitätsanbieter des Unternehmens (bei Single Sign-on) / the company's identity provider (with single sign-on)"},
				ThirdCountry: "nein, außer der gewählte Identitätsanbieter verarbeitet dort / no, unless the chosen identity provider processes there",
				Retention:    []string{"solange das Konto besteht; Sitzungen enden spätestens nach ihrer Höchstdauer / as long as the account exists; sessions end at their absolute timeout"},
				Location:     "auf " + host,
			},
		},
		Processors: []Processor{
			{Name: "Meta Platforms Ireland Ltd.", Role: "WhatsApp Business Cloud API (Auftragsverarbeiter / processor)"},
			{Name: "(Hosting-Anbieter eintragen / enter the hosting provider)", Role: "Betrieb des Servers / runs the server"},
		},
		Measures: []string{
			"Transportverschlüsselung (TLS) für Webhooks, Verwaltungsoberfläche und sichere Links / TLS for webhooks, panel and secure links",
			"Signaturprüfung jeder Webhook-Zustellung (HMAC-SHA256) / signature check of every delivery",
			"Zugriff nur mit persönlichem Konto und Rollen; API-Schlüssel mit Berechtigungen / personal accounts and roles; scoped API keys",
			"Manipulationsgeschütztes Protokoll (Hash-Kette) / tamper-evident audit log (hash chain)",
			"Automatische Löschung nach Fristen; sicheres Löschen (secure_delete, WAL-Kürzung, Suchindex-Bereinigung) / scheduled deletion; secure delete",
			"Geprüfte, optional verschlüsselte Sicherungen; Löschungen werden bei Wiederherstellung erneut angewandt / checked, optionally encrypted backups; erasures re-applied on restore",
			"Keine Nachrichteninhalte oder Telefonnummern in Betriebsprotokollen / no contents or phone numbers in logs",
		},
		Note: "Ausgangspunkt für das Verzeichnis von Verarbeitungstätigkeiten; vom Verantwortlichen zu prüfen und zu ergänzen. " +
			"A starting point for the record of processing activities; the controller must review and complete it.",
	}
	if pc.ReplicaActive != nil {
		pc.Replica, pc.ReplicaRetention, pc.ReplicaEncrypted = pc.ReplicaActive()
	}
	if pc.Replica != "" {
		enc := "clientseitig mit age verschlüsselt, der Anbieter hält nur Chiffretext / age-encrypted on the server, the provider holds ciphertext only"
		if !pc.ReplicaEncrypted {
			enc = "UNVERSCHLÜSSELT (ausdrücklich so eingestellt) / NOT encrypted (explicitly chosen)"
		}
		h := int(pc.ReplicaRetention.Hours())
		rec.Processors = append(rec.Processors, Processor{Name: "(Speicheranbieter der Off-site-Replik eintragen / enter the replica's storage provider): " + pc.Replica,
			Role: "Off-site-Replik von Datenbank und Medien / off-site replica of database and media"})
		rec.Measures = append(rec.Measures, fmt.Sprintf("Laufende Off-site-Replik (%s); nach einer Löschung ist spätestens nach %d h + 1 h + 2 min kein gelöschtes Byte mehr in der Replik; "+
			"Wiederherstellungen wenden Löschungen erneut an / continuous off-site replica (%s); at most %d h + 1 h + 2 min after an erasure no erased byte remains in it; restores re-apply erasures",
			enc, h, enc, h))
	}
	return rec, nil
}

// campaignActivity describes marketing campaigns and the double opt-in
// from the live settings: the opt-in entry points configured and the
// retention of campaign records.
func (s *Store) campaignActivity(ctx context.Context, retention string) (ProcessingActivity, error) {
	entries, err := s.OptInEntries(ctx)
	if err != nil {
		return ProcessingActivity{}, err
	}
	var n int
	if err := s.rdb.QueryRowContext(ctx, "SELECT count(*) FROM campaigns").Scan(&n); err != nil {
		return ProcessingActivity{}, fmt.Errorf("store: processing: %w", err)
	}
	how := "keine Opt-in-Einstiege eingerichtet / no opt-in entry points configured"
	if len(entries) > 0 {
		var names []string
		for _, e := range entries {
			names = append(names, fmt.Sprintf("%s (Zweck/purpose %s, Stichwort/keyword %q)", e.Name, e.Purpose, e.Keyword))
		}
		how = "Double-Opt-in über / double opt-in via: " + strings.Join(names, "; ")
	}
	return ProcessingActivity{
		Name: "WhatsApp-Kampagnen mit Double-Opt-in / WhatsApp campaigns with double opt-in",
		Purpose: fmt.Sprintf("Werbliche Vorlagen an Kunden mit nachgewiesener Einwilligung (bisher %d Kampagnen); %s / "+
			"marketing templates to customers with proven consent (%d campaigns so far)", n, how, n),
		LegalBasis: "Art. 6 Abs. 1 lit. a DSGVO (Einwilligung für den Zweck \"marketing\"), § 7 Abs. 2 UWG; Nachweis nach Art. 7 Abs. 1 " +
			"(Zweck, Wortlaut, Zeitpunkt, Kanal, Nachrichtenkennungen) / Art. 6(1)(a) GDPR, consent for the purpose \"marketing\"; proof under Art. 7(1)",
		Subjects: "Kunden mit Einwilligung; Empfänger ohne Einwilligung werden ausgeschlossen / customers who opted in; others are excluded",
		DataCategories: []string{"Empfängerliste nur mit internen Kennungen und Status / recipient list with internal ids and statuses only",
			"Einwilligungsnachweise / consent evidence", "Zustellstatus und Preisangaben von Meta / delivery receipts and pricing from Meta"},
		Recipients:   []string{"Meta Platforms Ireland Ltd. (Auftragsverarbeiter / processor)"},
		ThirdCountry: "wie Kundenkommunikation / as customer communication",
		Retention: []string{"abgeschlossene Kampagnen / finished campaigns: " + retention,
			"bei Löschung einer Person wird sie aus allen Kampagnen entfernt, die Zahlen bleiben / erasure removes a person from every campaign, counts stay"},
		Location: "auf dem eigenen Server / on the company's own server",
	}, nil
}
