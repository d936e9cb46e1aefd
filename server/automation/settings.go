package automation

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/pforte/pforte/store"
)

// Settings reads and saves a number's automations for the API and the
// panel: the same checks and the same stored JSON for both.
type Settings struct {
	st  *store.Store
	now func() time.Time

	mu      sync.Mutex
	rules   Rules
	version string
}

// NewSettings builds the settings face; now may be nil (time.Now).
func NewSettings(st *store.Store, now func() time.Time) *Settings {
	if now == nil {
		now = time.Now
	}
	return &Settings{st: st, now: now}
}

// Hours returns a number's business hours; nil when unset.
func (s *Settings) Hours(ctx context.Context, pnid string) (*Hours, error) {
	a, err := s.st.Automation(ctx, pnid, store.AutoHours)
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return ParseHours([]byte(a.Spec))
}

// SetHours checks and saves business hours (audited). Bad input is an
// *InputError and nothing is saved; an unknown number is store.ErrNotFound.
func (s *Settings) SetHours(ctx context.Context, actor store.Actor, pnid string, body []byte) (*Hours, error) {
	h, err := ParseHours(body)
	if err != nil {
		return nil, err
	}
	return h, s.st.SetAutomation(ctx, actor, pnid, store.AutoHours, h.JSON(), s.now())
}

// Reply returns a number's automatic reply: the stored one, or the default
// (off) when unset.
func (s *Settings) Reply(ctx context.Context, pnid string, kind store.AutomationKind) (*Reply, error) {
	if !kind.Valid() {
		return nil, bad("kind", "Unbekannte automatische Antwort %q; erlaubt sind welcome, away, waiting, nudge.",
			"Unknown automatic reply %q; allowed are welcome, away, waiting, nudge.", kind)
	}
	if _, err := s.numberKnown(ctx, pnid); err != nil {
		return nil, err
	}
	a, err := s.st.Automation(ctx, pnid, kind)
	if errors.Is(err, store.ErrNotFound) {
		return DefaultReply(kind), nil
	}
	if err != nil {
		return nil, err
	}
	return ParseReply(kind, []byte(a.Spec))
}

// SetReply checks and saves an automatic reply (audited). An away reply
// needs business hours first: without them "outside the hours" means
// nothing.
func (s *Settings) SetReply(ctx context.Context, actor store.Actor, pnid string, kind store.AutomationKind, body []byte) (*Reply, error) {
	r, err := ParseReply(kind, body)
	if err != nil {
		return nil, err
	}
	if _, err := s.numberKnown(ctx, pnid); err != nil {
		return nil, err
	}
	if kind == store.AutoAway && r.Enabled {
		h, err := s.Hours(ctx, pnid)
		if err != nil {
			return nil, err
		}
		if h == nil {
			return nil, bad("enabled", "Die Abwesenheitsnotiz braucht Geschäftszeiten: bitte zuerst die Geschäftszeiten festlegen.",
				"The away reply needs business hours: set the business hours first.")
		}
	}
	return r, s.st.SetAutomation(ctx, actor, pnid, kind, r.JSON(), s.now())
}

func (s *Settings) numberKnown(ctx context.Context, pnid string) (bool, error) {
	nums, err := s.st.BusinessNumbers(ctx)
	if err != nil {
		return false, err
	}
	for _, n := range nums {
		if n.PhoneNumberID == pnid {
			return true, nil
		}
	}
	return false, store.ErrNotFound
}

// State is whether a number is open now, for the inbox.
func (s *Settings) State(ctx context.Context, pnid string) (OpenState, error) {
	rules, err := loadRules(ctx, s.st, &s.mu, &s.rules, &s.version, nilLogger)
	if err != nil {
		return OpenState{}, err
	}
	return rules.State(pnid, s.now()), nil
}

// Now is the settings' clock.
func (s *Settings) Now() time.Time { return s.now() }
