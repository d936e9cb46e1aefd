package web

import (
	"context"
	"strings"
	"testing"
)

// Every alarm format has an English text with as many verbs, and stored
// German alarms render in English with their variable parts kept; German
// stays as stored and an unknown text falls back to itself.
func TestAlarmTextsTranslate(t *testing.T) {
	for _, f := range alarmFormats {
		en, ok := english[f]
		if !ok {
			t.Errorf("no English for alarm format %q", f)
			continue
		}
		if strings.Count(en, "%s") != strings.Count(f, "%s") {
			t.Errorf("alarm %q: English %q has another number of parts", f, en)
		}
	}
	en := WithLang(context.Background(), "en")
	de := WithLang(context.Background(), "de")
	for stored, want := range map[string]string{
		"Qualitätsbewertung der Nummer 106540352242922 ist RED.":                   "Quality rating of number 106540352242922 is RED.",
		"Qualitätsbewertung der Nummer 106540352242922 ist wieder GREEN.":          "Quality rating of number 106540352242922 is GREEN again.",
		"Nachrichtenlimit der Nummer 1065 gesenkt: TIER_10K → TIER_2K.":            "Messaging limit of number 1065 lowered: TIER_10K → TIER_2K.",
		"Nachrichtenlimit der Nummer 1065 wieder erhöht: TIER_10K.":                "Messaging limit of number 1065 raised again: TIER_10K.",
		"Meta hat die Vorlage bestellung_v2 gestoppt: PAUSED.":                     "Meta stopped template bestellung_v2: PAUSED.",
		"Die Festplatte des Datenverzeichnisses ist fast voll: 3.5 % frei.":        "The data directory's disk is almost full: 3.5 % free.",
		"Die Datensicherung schlägt fehl: open /var/lib/pforte: permission denied": "The backup fails: open /var/lib/pforte: permission denied",
		"Webhooks von Meta kommen wieder an.":                                      "Webhooks from Meta arrive again.",
		"Meta rejected the access token (error 190): expired":                      "Meta rejected the access token (error 190): expired",
	} {
		if got := TAlarm(en, stored); got != want {
			t.Errorf("TAlarm(en, %q) = %q, want %q", stored, got, want)
		}
		if got := TAlarm(de, stored); got != stored {
			t.Errorf("TAlarm(de, %q) = %q, want it unchanged", stored, got)
		}
	}
}
