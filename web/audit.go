package web

import (
	"bytes"
	"context"
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// AuditNames resolves the ids an audit log page mentions to names; the
// server fills it from the store.
type AuditNames struct {
	Users    map[int64]string  // user id → display name
	APIKeys  map[string]string // key prefix → key name
	Contacts map[int64]string  // contact id → display name
}

// AuditField is one readable line of an entry's details.
type AuditField struct {
	Label, Value string
}

// AuditActionLabel says in words what an audit key records. The store
// keeps the stable key (store.AuditAction); the words live here, in both
// languages. A key this list does not know yet is shown humanised, never raw.
func AuditActionLabel(ctx context.Context, action string) string {
	if de, ok := auditActions[action]; ok {
		return T(ctx, de)
	}
	return humanize(action)
}

// AuditActionKnown reports whether an audit key has words (for tests).
func AuditActionKnown(action string) bool {
	_, ok := auditActions[action]
	return ok
}

var auditActions = map[string]string{
	"authz.denied":             "Zugriff verweigert",
	"login.throttled":          "Anmeldung gebremst (zu viele Versuche)",
	"login.failed":             "Anmeldung fehlgeschlagen",
	"login.password_ok":        "Passwort richtig, zweiter Faktor ausstehend",
	"login.success":            "Anmeldung erfolgreich",
	"logout":                   "Abmeldung",
	"logout.everywhere":        "Überall abgemeldet",
	"password.change":          "Passwort geändert",
	"password.change_failed":   "Passwortänderung fehlgeschlagen",
	"invite.accept":            "Einladung angenommen",
	"user.create":              "Konto angelegt",
	"user.invite":              "Einladung verschickt",
	"user.role":                "Rolle geändert",
	"user.disable":             "Konto gesperrt",
	"user.enable":              "Konto entsperrt",
	"user.logout":              "Sitzungen eines Kontos beendet",
	"user.2fa_enable":          "Zwei-Faktor-Anmeldung eingerichtet",
	"user.2fa_disable":         "Zwei-Faktor-Anmeldung abgeschaltet",
	"user.2fa_reset":           "Zwei-Faktor-Anmeldung zurückgesetzt",
	"conversation.assign":      "Unterhaltung zugewiesen",
	"message.retry":            "Nachricht erneut gesendet",
	"template.text":            "Vorlagentext gespeichert",
	"settings.change":          "Einstellung geändert",
	"settings.number.add":      "Rufnummer hinzugefügt",
	"settings.stop_words":      "Stoppwörter geändert",
	"settings.stop_reply":      "Bestätigung auf Stoppwort geändert",
	"apikey.create":            "API-Schlüssel erzeugt",
	"apikey.revoke":            "API-Schlüssel widerrufen",
	"apikey.use":               "API-Schlüssel benutzt",
	"consent.opt_in":           "Einwilligung erteilt",
	"consent.opt_out":          "Einwilligung widerrufen",
	"subscription.create":      "Weiterleitung eingerichtet",
	"subscription.update":      "Weiterleitung geändert",
	"subscription.delete":      "Weiterleitung gelöscht",
	"subscription.replay":      "Weiterleitung wiederholt",
	"backup.restore":           "Sicherung wiederhergestellt",
	"retention.policy":         "Löschfrist geändert",
	"retention.run":            "Bereinigung nach Löschfristen",
	"secure_link.create":       "Sicheren Link erzeugt",
	"secure_link.answer":       "Sicheren Link beantwortet",
	"legal_hold.set":           "Aufbewahrungspflicht gesetzt",
	"legal_hold.release":       "Aufbewahrungspflicht aufgehoben",
	"contact.export":           "Daten einer Person exportiert",
	"contact.erase":            "Daten einer Person gelöscht",
	"contact.erase.restricted": "Löschung beantragt, wegen Aufbewahrungspflicht gesperrt",
	"contact.restriction.lift": "Sperrung aufgehoben",
	"decisions.replay":         "Datenschutz-Entscheidungen nach Wiederherstellung erneut angewandt",
	"reauth.failed":            "Bestätigung mit aktuellem Passwort fehlgeschlagen",
	"reauth.throttled":         "Bestätigung mit aktuellem Passwort gedrosselt",
	"user.password_reset":      "Passwort zurückgesetzt",
	"user.email_change":        "E-Mail-Adresse geändert",
	"template.category":        "Vorlagenkategorie festgelegt",
	"campaign.create":          "Kampagne angelegt",
	"campaign.start":           "Kampagne gestartet",
	"campaign.pause":           "Kampagne angehalten",
	"campaign.auto_pause":      "Kampagne automatisch angehalten",
	"campaign.resume":          "Kampagne fortgesetzt",
	"campaign.cancel":          "Kampagne abgebrochen",
	"campaign.done":            "Kampagne abgeschlossen",
	"optin.entry":              "Opt-in-Einstieg gespeichert",
	"campaign.settings":        "Kampagnen-Einstellungen geändert",
	"settings.smtp":            "Mailserver für Alarme geändert",
	"settings.pricing_rates":   "Preistabelle geändert",
	// Single sign-on and passkeys.
	"sso.login":            "Anmeldung über Single Sign-on",
	"sso.link":             "Konto mit Single-Sign-on-Identität verknüpft",
	"sso.user_create":      "Konto bei der ersten Single-Sign-on-Anmeldung angelegt",
	"sso.role":             "Rolle aus der Gruppenzuordnung des Anmeldedienstes geändert",
	"sso.refused":          "Single-Sign-on-Anmeldung abgelehnt",
	"sso.session_ended":    "Sitzung beendet: Anmeldedienst lehnt das Konto ab",
	"sso.settings":         "Single-Sign-on-Einstellungen geändert",
	"sso.logout":           "Abmeldung auch beim Anmeldedienst",
	"login.password_off":   "Passwort-Anmeldung abgelehnt (nur noch Single Sign-on)",
	"passkey.add":          "Passkey hinzugefügt",
	"passkey.remove":       "Passkey entfernt",
	"passkey.clone":        "Passkey abgelehnt: Signaturzähler rückwärts (möglicher Klon)",
	"passkey.failed":       "Passkey-Anmeldung fehlgeschlagen",
	"automation.change":    "Automatisierung geändert",
	"conversation.bot":     "Bot-Übergabe geändert",
	"template.create":      "Vorlage bei Meta eingereicht",
	"template.edit":        "Vorlage bei Meta geändert",
	"template.delete":      "Vorlage bei Meta gelöscht",
	"template.sync":        "Vorlagen mit Meta abgeglichen",
	"conversation.start":   "Unterhaltung begonnen",
	"contact.create":       "Kontakt angelegt",
	"contact.update":       "Kontakt geändert",
	"contact.merge":        "Kontakte zusammengeführt",
	"contact.import":       "Kontakte importiert",
	"contact_field.create": "Kontaktfeld angelegt",
	"contact_field.update": "Kontaktfeld geändert",
	"contact_field.delete": "Kontaktfeld gelöscht",
	"contact.request_info": "Telefonnummer erfragt",
	"contacts.export":      "Adressbuch exportiert",

	// Password login switched off (issue 19 follow-up).
	"login.password_sessions_ended": "Passwort-Anmeldung abgeschaltet: offene Passwort-Sitzungen beendet",
	"team.create":                   "Team angelegt",
	"team.delete":                   "Team gelöscht",
	"team.members":                  "Team-Mitglieder geändert",
	"routing.change":                "Zuweisungsregeln geändert",

	// Off-site replica set on the settings page.
	"replica.settings":      "Off-site-Replikation eingestellt",
	"replica.key_create":    "Schlüssel für die Off-site-Replikation erzeugt",
	"contact.number_shared": "Telefonnummer vom Kunden geteilt",
}

// auditActor names who acted: a person, an API key, the system.
func auditActor(ctx context.Context, names AuditNames, actor ActorVM) string {
	switch actor.Kind {
	case ActorUser:
		return userName(ctx, names, actor.UserID)
	case ActorAPIKey:
		if name, ok := names.APIKeys[actor.Key]; ok {
			return Tf(ctx, "API-Schlüssel „%s“", name)
		}
		return Tf(ctx, "API-Schlüssel „%s“", actor.Key)
	case ActorSystem:
		return T(ctx, "System")
	case ActorStopReply:
		return T(ctx, "System (Antwort auf Stoppwort)")
	case ActorCLI:
		return T(ctx, "Kommandozeile")
	case ActorSetup:
		return T(ctx, "Ersteinrichtung")
	case ActorAnonymous:
		return T(ctx, "Nicht angemeldet")
	case ActorCustomer:
		return T(ctx, "Kundin oder Kunde")
	case ActorRestore:
		return T(ctx, "Wiederherstellung")
	case ActorUnknown:
		return T(ctx, "Unbekannt")
	}
	if actor.Raw == "" {
		return T(ctx, "Unbekannt")
	}
	return auditRef(ctx, names, actor.Raw)
}

// userName names a panel account by id.
func userName(ctx context.Context, names AuditNames, id int64) string {
	if name, ok := names.Users[id]; ok {
		return name
	}
	return Tf(ctx, "Konto #%s", strconv.FormatInt(id, 10))
}

// auditTarget names what an action was about.
func auditTarget(ctx context.Context, names AuditNames, action, target string) string {
	switch target {
	case "":
		return "–"
	case "settings":
		return T(ctx, "Einstellungen")
	case "retention":
		return T(ctx, "Löschfristen")
	case "database":
		return T(ctx, "Datenbank")
	case "ip":
		return T(ctx, "IP-Adresse")
	case "totp":
		return T(ctx, "Zweiter Faktor")
	}
	if method, path, ok := strings.Cut(target, " "); ok && strings.HasPrefix(path, "/") {
		if method == "GET" {
			return Tf(ctx, "Seite %s", path)
		}
		return Tf(ctx, "Aktion %s", path)
	}
	if _, err := strconv.ParseInt(target, 10, 64); err == nil && action == "message.retry" {
		return Tf(ctx, "Nachricht #%s", target)
	}
	return auditRef(ctx, names, target)
}

// auditRef names a "kind:id" reference.
func auditRef(ctx context.Context, names AuditNames, ref string) string {
	kind, id, ok := strings.Cut(ref, ":")
	if !ok {
		return humanize(ref)
	}
	n, numErr := strconv.ParseInt(id, 10, 64)
	switch kind {
	case "user":
		if name, ok := names.Users[n]; ok && numErr == nil {
			return name
		}
		return Tf(ctx, "Konto #%s", id)
	case "apikey":
		if name, ok := names.APIKeys[id]; ok {
			return Tf(ctx, "API-Schlüssel „%s“", name)
		}
		return Tf(ctx, "API-Schlüssel „%s“", id)
	case "email":
		return id
	case "contact":
		if name, ok := names.Contacts[n]; ok && numErr == nil && name != "" {
			return name
		}
		return Tf(ctx, "Kontakt #%s", id)
	case "conversation":
		return Tf(ctx, "Unterhaltung #%s", id)
	case "subscription":
		return Tf(ctx, "Weiterleitung #%s", id)
	case "hold":
		return Tf(ctx, "Aufbewahrungspflicht #%s", id)
	case "erasure":
		return Tf(ctx, "Löschauftrag #%s", id)
	case "retention":
		return T(ctx, "Löschfrist") + ": " + RetentionLabel(ctx, id)
	case "message":
		return Tf(ctx, "Nachricht #%s", id)
	}
	return humanize(kind) + " " + id
}

// auditFields turns an entry's JSON details into labelled lines.
func auditFields(ctx context.Context, names AuditNames, action, detail string) []AuditField {
	detail = strings.TrimSpace(detail)
	if detail == "" || detail == "{}" || detail == "null" {
		return nil
	}
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader([]byte(detail)))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return []AuditField{{Label: T(ctx, "Details"), Value: detail}}
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.SliceStable(keys, func(i, j int) bool {
		a, b := fieldRank(keys[i]), fieldRank(keys[j])
		if a != b {
			return a < b
		}
		return keys[i] < keys[j]
	})
	out := make([]AuditField, 0, len(keys))
	for _, k := range keys {
		v := auditValue(ctx, names, action, k, m[k])
		if v == "" {
			continue // an empty detail ("all numbers") says nothing
		}
		out = append(out, AuditField{Label: auditFieldLabel(ctx, action, k), Value: v})
	}
	return out
}

var fieldOrder = []string{"role", "from", "to", "reason", "subject", "purpose", "source", "class", "days", "scopes", "via", "mfa"}

func fieldRank(k string) int {
	for i, f := range fieldOrder {
		if f == k {
			return i
		}
	}
	return len(fieldOrder)
}

var auditFieldLabels = map[string]string{
	"reason":           "Grund",
	"locked":           "Konto vorübergehend gesperrt",
	"known_good":       "Bekanntes Gerät oder bekannte Adresse",
	"scope":            "Gedrosselt nach",
	"since":            "Seit",
	"window_s":         "Zeitfenster (Sekunden)",
	"for":              "Für",
	"decisions":        "Entscheidungen erneut angewandt",
	"mfa":              "Zweiter Faktor",
	"role":             "Rolle",
	"first_run":        "Bei der Ersteinrichtung",
	"demo":             "Demo",
	"via":              "Über",
	"assignee":         "Zuständig",
	"require_2fa":      "Zwei-Faktor-Anmeldung Pflicht",
	"scopes":           "Rechte",
	"purpose":          "Zweck",
	"source":           "Quelle",
	"record":           "Eintrag",
	"count":            "Anzahl",
	"events":           "Ereignisse",
	"enabled":          "Aktiv",
	"changed":          "Geändert",
	"queued_dropped":   "Verworfene Zustellungen",
	"dead_letter":      "Aufgegebene Zustellungen",
	"queued":           "Erneut eingereiht",
	"backup":           "Sicherung",
	"tombstones":       "Löschvermerke",
	"reerased":         "Erneut gelöscht",
	"class":            "Datenart",
	"phone_number_id":  "Rufnummer",
	"days":             "Tage",
	"media_files":      "Dateien",
	"orphan_files":     "Verwaiste Dateien",
	"erasures":         "Löschaufträge",
	"link":             "Sicherer Link",
	"expires_at":       "Gültig bis",
	"file":             "Datei angehängt",
	"hold":             "Aufbewahrungspflicht",
	"preset":           "Frist",
	"until":            "Bis",
	"subject":          "Betroffene Person",
	"holds":            "Aufbewahrungspflichten",
	"identifiers":      "Kennungen",
	"messages":         "Nachrichten",
	"statuses":         "Statusmeldungen",
	"deliveries":       "Zustellungen",
	"conversations":    "Unterhaltungen",
	"media_mismatches": "Abweichende Dateien",
}

func auditFieldLabel(ctx context.Context, action, key string) string {
	switch {
	case action == "user.role" && key == "from":
		return T(ctx, "Vorher")
	case action == "user.role" && key == "to":
		return T(ctx, "Nachher")
	case key == "from":
		return T(ctx, "Von")
	case key == "to":
		return T(ctx, "Bis")
	case action == "retention.run":
		// The run lists rows per retention class.
		if l := RetentionLabel(ctx, key); l != key {
			return l
		}
	}
	if de, ok := auditFieldLabels[key]; ok {
		return T(ctx, de)
	}
	return humanize(key)
}

func auditValue(ctx context.Context, names AuditNames, action, key string, v any) string {
	switch x := v.(type) {
	case nil:
		return "–"
	case bool:
		if x {
			return T(ctx, "ja")
		}
		return T(ctx, "nein")
	case json.Number:
		n, err := x.Int64()
		if err != nil {
			return x.String()
		}
		switch {
		case key == "expires_at" || key == "until" || (action == "subscription.replay" && (key == "from" || key == "to")):
			return dateTime(ctx, time.Unix(n, 0))
		case key == "assignee":
			if n == 0 {
				return T(ctx, "niemand")
			}
			return userName(ctx, names, n)
		case key == "record" || key == "link" || key == "hold":
			return "#" + x.String()
		}
		return Num(ctx, n)
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			parts = append(parts, auditValue(ctx, names, action, key, e))
		}
		if len(parts) == 0 {
			return "–"
		}
		return strings.Join(parts, ", ")
	case string:
		return auditWord(ctx, action, key, x)
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// auditWord translates the fixed words details use as values.
func auditWord(ctx context.Context, action, key, s string) string {
	switch key {
	case "role", "from", "to":
		if action == "user.role" || key == "role" {
			return RoleLabel(ctx, s)
		}
	case "scopes":
		var out []string
		for _, sc := range strings.Split(s, ",") {
			if sc = strings.TrimSpace(sc); sc != "" {
				out = append(out, ScopeLabel(ctx, sc))
			}
		}
		return strings.Join(out, ", ")
	case "purpose":
		return purposeLabel(ctx, s)
	case "source":
		return consentSource(ctx, s)
	case "class":
		return RetentionLabel(ctx, s)
	case "events":
		return eventLabel(ctx, s)
	case "changed":
		if de, ok := subscriptionFields[s]; ok {
			return T(ctx, de)
		}
	case "preset":
		return holdPresetLabel(ctx, s)
	case "via":
		if s == "setup" {
			return T(ctx, "Ersteinrichtung")
		}
	case "mfa":
		return mfaLabel(ctx, s)
	case "reason":
		switch s {
		case "bad_password":
			return T(ctx, "falsches Passwort")
		case "unknown_email":
			return T(ctx, "unbekannte E-Mail-Adresse")
		case "disabled":
			return T(ctx, "Konto gesperrt")
		case "bad_totp":
			return T(ctx, "falscher Code")
		case "bad_recovery_code":
			return T(ctx, "falscher Wiederherstellungscode")
		}
	}
	return s
}

var subscriptionFields = map[string]string{
	"name": "Name", "url": "Adresse", "secret": "Geheimnis", "events": "Ereignisse", "enabled": "Aktiv",
}

func mfaLabel(ctx context.Context, s string) string {
	switch s {
	case "totp":
		return T(ctx, "Code aus der App")
	case "recovery_code":
		return T(ctx, "Wiederherstellungscode")
	}
	return humanize(s)
}

func eventLabel(ctx context.Context, s string) string {
	switch s {
	case "messages":
		return T(ctx, "Nachrichten")
	case "statuses":
		return T(ctx, "Statusmeldungen")
	case "errors":
		return T(ctx, "Fehler")
	case "other":
		return T(ctx, "Sonstiges")
	}
	return humanize(s)
}

func holdPresetLabel(ctx context.Context, s string) string {
	switch s {
	case "business_letter":
		return T(ctx, "Geschäftsbrief, 6 Jahre")
	case "voucher":
		return T(ctx, "Buchungsbeleg/Rechnung, 8 Jahre")
	case "books":
		return T(ctx, "Bücher, 10 Jahre")
	}
	return humanize(s)
}

// RoleLabel names a panel role.
func RoleLabel(ctx context.Context, role string) string {
	switch role {
	case "admin":
		return T(ctx, "Admin")
	case "agent":
		return T(ctx, "Agent")
	case "auditor":
		return T(ctx, "Prüfer")
	}
	return humanize(role)
}

// ScopeLabel names an API key's scope (store.Scope*) for people.
func ScopeLabel(ctx context.Context, scope string) string {
	switch scope {
	case "read":
		return T(ctx, "Lesen")
	case "send":
		return T(ctx, "Senden")
	case "gdpr":
		return T(ctx, "Datenschutz")
	case "admin":
		return T(ctx, "Verwaltung")
	}
	return humanize(scope)
}

// humanize is the fallback for a machine word no list knows yet:
// "widget.frob_count" reads "Widget frob count", never the dotted key.
func humanize(key string) string {
	s := strings.Join(strings.FieldsFunc(key, func(r rune) bool { return r == '.' || r == '_' || r == '-' || r == ':' }), " ")
	if s == "" {
		return "–"
	}
	r, n := utf8.DecodeRuneInString(s)
	return string(unicode.ToUpper(r)) + s[n:]
}

// colorLabel names a label colour (store.LabelColors) for people.
func colorLabel(ctx context.Context, c string) string {
	switch c {
	case "slate":
		return T(ctx, "Grau")
	case "red":
		return T(ctx, "Rot")
	case "amber":
		return T(ctx, "Gelb")
	case "green":
		return T(ctx, "Grün")
	case "teal":
		return T(ctx, "Türkis")
	case "blue":
		return T(ctx, "Blau")
	case "violet":
		return T(ctx, "Violett")
	case "pink":
		return T(ctx, "Rosa")
	}
	return humanize(c)
}

// scopeList names several scopes.
func scopeList(ctx context.Context, scopes []string) string {
	out := make([]string, len(scopes))
	for i, s := range scopes {
		out[i] = ScopeLabel(ctx, s)
	}
	return strings.Join(out, ", ")
}

// scopeHint explains what a scope allows.
func scopeHint(ctx context.Context, scope string) string {
	switch scope {
	case "read":
		return T(ctx, "Nachrichten und Kontakte lesen")
	case "send":
		return T(ctx, "Nachrichten senden")
	case "gdpr":
		return T(ctx, "Auskunft, Löschung, Einwilligungen, Aufbewahrungspflichten")
	case "admin":
		return T(ctx, "Alles, auch Weiterleitungen und Aufträge verwalten")
	}
	return ""
}
