package web

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// alarmFormats are the German texts Pforte stores for alarms, with their
// variable parts (numbers, names, Meta's words) as verbs. An alarm is
// stored once, in German, because its mail and fan-out event go out
// before anyone reads it; the panel translates it when it renders it by
// matching it against these formats. Each format's English lives in the
// i18n table (i18n_alarms_en.go) with %s for every verb, in the same order.
var alarmFormats = []string{
	// store/health.go
	"Meta verweigert das Lesen der Nummer %s (fehlende Berechtigung): %s",
	"Meta erlaubt das Lesen der Nummern wieder.",
	"Qualitätsbewertung der Nummer %s ist wieder GREEN.",
	"Qualitätsbewertung der Nummer %s ist %s.",
	"Nachrichtenlimit der Nummer %s gesenkt: %s → %s.",
	"Nachrichtenlimit der Nummer %s wieder erhöht: %s.",
	"Nachrichtenlimit der Nummer %s erhöht: %s.",
	"Meta hat die Nummer %s wegen schlechter Qualität markiert (FLAGGED).",
	"Meta hat die Markierung der Nummer %s aufgehoben.",
	"Meta sperrt das WhatsApp-Konto %s (%s %s).",
	"Meta hat das WhatsApp-Konto %s wieder freigegeben.",
	"Die Einschränkung des WhatsApp-Kontos %s ist aufgehoben.",
	"Meta schränkt das WhatsApp-Konto %s ein: %s.",
	"Meta meldet einen Richtlinienverstoß des WhatsApp-Kontos %s: %s.",
	"Meta hat die Vorlage %s gestoppt: %s.",
	"Die Vorlage %s ist wieder nutzbar (%s).",
	// server/health/monitor.go
	"Seit %s kam kein Webhook von Meta (üblich: höchstens %s).",
	"Webhooks von Meta kommen wieder an.",
	"Die Festplatte des Datenverzeichnisses ist fast voll: %s %% frei.",
	"Auf der Festplatte des Datenverzeichnisses ist wieder genug Platz.",
	"Die Erneuerung des TLS-Zertifikats schlägt fehl: %s",
	"Das TLS-Zertifikat wurde erneuert.",
	"Die Datensicherung schlägt fehl: %s",
	"Die Datensicherung läuft wieder.",
	// store/outbox.go, cli/replica.go
	"Behoben: %s",
	"Off-site-Replikation: %s",
}

type alarmPattern struct {
	de string
	re *regexp.Regexp
}

var (
	alarmOnce     sync.Once
	alarmPatterns []alarmPattern
)

// compileAlarmFormats turns each format into an anchored expression with
// one capture per verb; formats without verbs match exactly. The first
// match wins, so a more specific format stands before a general one.
func compileAlarmFormats() {
	verb := regexp.MustCompile(`%[-+# 0-9.]*[a-z]`)
	for _, f := range alarmFormats {
		var b strings.Builder
		b.WriteString("^")
		rest := strings.ReplaceAll(f, "%%", "\x00")
		last := 0
		for _, loc := range verb.FindAllStringIndex(rest, -1) {
			b.WriteString(regexp.QuoteMeta(strings.ReplaceAll(rest[last:loc[0]], "\x00", "%")))
			b.WriteString("(.+?)")
			last = loc[1]
		}
		b.WriteString(regexp.QuoteMeta(strings.ReplaceAll(rest[last:], "\x00", "%")))
		b.WriteString("$")
		alarmPatterns = append(alarmPatterns, alarmPattern{de: f, re: regexp.MustCompile(b.String())})
	}
}

// TAlarm renders a stored (German) alarm text in the language of ctx:
// the first format it matches is translated and refilled with the parts
// it captured. A text no format matches is shown as stored.
func TAlarm(ctx context.Context, msg string) string {
	if Lang(ctx) != "en" {
		return msg
	}
	alarmOnce.Do(compileAlarmFormats)
	for _, p := range alarmPatterns {
		m := p.re.FindStringSubmatch(msg)
		if m == nil {
			continue
		}
		en, ok := english[p.de]
		if !ok {
			return T(ctx, msg)
		}
		args := make([]any, len(m)-1)
		for i, a := range m[1:] {
			args[i] = a
		}
		if len(args) == 0 {
			return en
		}
		return fmt.Sprintf(en, args...)
	}
	return T(ctx, msg)
}
