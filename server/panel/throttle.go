package panel

import (
	"encoding/json"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pforte/pforte/store"
)

// attempts counts failed password or code checks.
type attempts int

// The login throttle's figures, all in one place. Three counters see every
// failed login, TOTP code or re-authentication:
//
//   - per account and address: the guesses one place makes at one account;
//   - per address over all accounts: password spraying (room for an office
//     behind one NAT);
//   - per account from anywhere: slows a botnet, but only briefly, so that
//     nobody can lock an owner out by guessing wrong on purpose.
//
// A counter's limit-th failure locks for its base time; each further
// failure (once the lock ended) doubles the lock, up to its cap. A known-good
// browser or address (see knownGood) skips the account counter and is never
// locked longer than knownGoodMaxLock.
const (
	pairLimit attempts      = 5
	pairBase  time.Duration = time.Minute
	pairMax   time.Duration = time.Hour

	ipLimit attempts      = 30
	ipBase  time.Duration = time.Minute
	ipMax   time.Duration = time.Hour

	accountLimit attempts      = 10
	accountBase  time.Duration = 5 * time.Second
	accountMax   time.Duration = 2 * time.Minute

	knownGoodMaxLock time.Duration = 5 * time.Minute

	// throttleForget is the quiet after which a counter starts afresh; it
	// is longer than every cap, so waiting out a lock does not reset it.
	throttleForget time.Duration = 24 * time.Hour
	// throttleMaxKeys bounds memory when an attacker rotates addresses.
	throttleMaxKeys = 100_000

	// deviceCookieAge is how long a browser that logged in stays known-good.
	deviceCookieAge time.Duration = 90 * 24 * time.Hour

	// throttledAuditWindow is the span one audit row of throttled attempts
	// covers (per action, target and address).
	throttledAuditWindow time.Duration = time.Minute
)

// throttlePolicy is one counter's figures.
type throttlePolicy struct {
	limit attempts
	base  time.Duration
	max   time.Duration
}

// throttle counts failures per key and locks a key out with exponential
// back-off. It is checked before any password is hashed, so a locked key
// costs no CPU. State is in memory: a restart forgets it, which only ever
// shortens a lock.
type throttle struct {
	mu     sync.Mutex
	policy throttlePolicy
	keys   map[string]*throttleEntry
}

type throttleEntry struct {
	fails       attempts
	last        time.Time // last failure
	lockedAt    time.Time
	lockedUntil time.Time
}

func newThrottle(p throttlePolicy) *throttle {
	return &throttle{policy: p, keys: map[string]*throttleEntry{}}
}

// blocked reports until when key is locked (zero when it is not). maxLock,
// if positive, shortens the lock to at most that long from its start.
func (t *throttle) blocked(key string, now time.Time, maxLock time.Duration) time.Time {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		return time.Time{}
	}
	until := e.lockedUntil
	if maxLock > 0 && until.Sub(e.lockedAt) > maxLock {
		until = e.lockedAt.Add(maxLock)
	}
	if !now.Before(until) {
		return time.Time{}
	}
	return until
}

// fail records a failure and returns the lock it caused (0: none).
func (t *throttle) fail(key string, now time.Time) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		if len(t.keys) >= throttleMaxKeys {
			t.prune(now)
		}
		e = &throttleEntry{}
		t.keys[key] = e
	}
	if now.Sub(e.last) > throttleForget {
		e.fails = 0
	}
	e.fails++
	e.last = now
	if e.fails < t.policy.limit {
		return 0
	}
	d := t.policy.max
	if n := e.fails - t.policy.limit; n < 30 {
		d = min(t.policy.base<<n, t.policy.max)
	}
	e.lockedAt, e.lockedUntil = now, now.Add(d)
	return d
}

// success forgets a key's failures after a good login.
func (t *throttle) success(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}

// prune drops entries that are not locked, quiet ones first, bounding
// memory when an attacker rotates through many keys.
func (t *throttle) prune(now time.Time) {
	for k, e := range t.keys {
		if !now.Before(e.lockedUntil) && now.Sub(e.last) > pairBase {
			delete(t.keys, k)
		}
	}
	if len(t.keys) < throttleMaxKeys {
		return
	}
	for k, e := range t.keys {
		if !now.Before(e.lockedUntil) {
			delete(t.keys, k)
		}
	}
}

// loginThrottle is the three counters of a login-like check.
type loginThrottle struct {
	pairs    *throttle // account and address
	ips      *throttle // address, over all accounts
	accounts *throttle // account, from anywhere
}

func newLoginThrottle() *loginThrottle {
	return &loginThrottle{
		pairs:    newThrottle(throttlePolicy{pairLimit, pairBase, pairMax}),
		ips:      newThrottle(throttlePolicy{ipLimit, ipBase, ipMax}),
		accounts: newThrottle(throttlePolicy{accountLimit, accountBase, accountMax}),
	}
}

// throttleScope names the counter that refused an attempt.
type throttleScope string

const (
	scopeNone    throttleScope = ""
	scopeIP      throttleScope = "ip"      // the address, over all accounts
	scopePair    throttleScope = "pair"    // the account from this address
	scopeAccount throttleScope = "account" // the account, from anywhere
)

// attempt is one check of a password or code by one address at one account.
type attempt struct {
	account   string // lower-case e-mail address
	ip        string // as throttleAddr returns it
	knownGood bool
}

// throttleAddr is the unit an address is counted in: an IPv4 address, or
// the /64 of an IPv6 one (one customer line gets a whole /64).
func throttleAddr(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	a = a.Unmap()
	if a.Is4() {
		return a.String()
	}
	p, _ := a.Prefix(64)
	return p.String()
}

func (a attempt) pairKey() string { return a.account + "\x00" + a.ip }

// blocked reports the counter that blocks a (scopeNone: none), checked
// before anything is hashed.
func (lt *loginThrottle) blocked(a attempt, now time.Time) throttleScope {
	maxLock := time.Duration(0)
	if a.knownGood {
		maxLock = knownGoodMaxLock
	}
	switch {
	case !lt.ips.blocked(a.ip, now, maxLock).IsZero():
		return scopeIP
	case !lt.pairs.blocked(a.pairKey(), now, maxLock).IsZero():
		return scopePair
	case !a.knownGood && !lt.accounts.blocked(a.account, now, 0).IsZero():
		return scopeAccount
	}
	return scopeNone
}

// fail counts a failed check on all three counters and reports whether it
// locked the pair (the lock the guesser sees first).
func (lt *loginThrottle) fail(a attempt, now time.Time) bool {
	lt.ips.fail(a.ip, now)
	lt.accounts.fail(a.account, now)
	return lt.pairs.fail(a.pairKey(), now) > 0
}

// success clears the pair's counter only: the address's stays, so that one
// good account does not let an address spray the others, and the
// account's, so that the owner logging in does not hand a botnet a fresh
// set of guesses (it decays on its own, and is short).
func (lt *loginThrottle) success(a attempt) {
	lt.pairs.success(a.pairKey())
}

// normEmail is how an account is named in the throttle and the audit log.
func normEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// throttledAudit folds the audit rows of refused (throttled) attempts: the
// first attempt of a window writes a row at once, the rest of the window
// only counts, and the count is written as one more row when the window
// ends. A locked-out address thus writes two rows a minute, not hundreds a
// second.
type throttledAudit struct {
	mu    sync.Mutex
	open  map[string]*throttledWindow
	write func(store.AuditEntry)
}

type throttledWindow struct {
	entry store.AuditEntry
	start time.Time
	scope throttleScope
	more  int // attempts after the first
	timer *time.Timer
}

func newThrottledAudit(write func(store.AuditEntry)) *throttledAudit {
	return &throttledAudit{open: map[string]*throttledWindow{}, write: write}
}

// record counts one throttled attempt at now. The key folds rows: a
// blocked address is one key whatever accounts it tries, a blocked account
// one key whatever addresses try it.
func (a *throttledAudit) record(e store.AuditEntry, scope throttleScope, now time.Time) {
	key := string(e.Action) + "\x00" + string(scope) + "\x00"
	switch scope {
	case scopeIP:
		e.Target = "ip"
		key += throttleAddr(e.IP)
	case scopeAccount:
		key += e.Target
	default:
		key += e.Target + "\x00" + throttleAddr(e.IP)
	}
	var out []store.AuditEntry
	a.mu.Lock()
	if w := a.open[key]; w != nil && now.Sub(w.start) < throttledAuditWindow {
		w.more++
		a.mu.Unlock()
		return
	} else if w != nil {
		out = append(out, a.closeLocked(key, w)...)
	}
	if len(a.open) >= throttleMaxKeys { // rotating keys: write what has ended
		for k, w := range a.open {
			if now.Sub(w.start) >= throttledAuditWindow {
				out = append(out, a.closeLocked(k, w)...)
			}
		}
	}
	e.TS = now.Unix()
	e.Detail = throttledDetail(scope, 1, now)
	w := &throttledWindow{entry: e, start: now, scope: scope}
	w.timer = time.AfterFunc(throttledAuditWindow, func() { a.expire(key, w) })
	a.open[key] = w
	a.mu.Unlock()
	for _, x := range append(out, e) {
		a.write(x)
	}
}

// flush writes every open window's count now (at shutdown).
func (a *throttledAudit) flush() {
	a.mu.Lock()
	var out []store.AuditEntry
	for k, w := range a.open {
		out = append(out, a.closeLocked(k, w)...)
	}
	a.mu.Unlock()
	for _, x := range out {
		a.write(x)
	}
}

// expire writes a window's count when its time is up and no later
// attempt has done so.
func (a *throttledAudit) expire(key string, w *throttledWindow) {
	a.mu.Lock()
	var out []store.AuditEntry
	if a.open[key] == w {
		out = a.closeLocked(key, w)
	}
	a.mu.Unlock()
	for _, x := range out {
		a.write(x)
	}
}

// closeLocked ends a window and returns its summary row, if any.
func (a *throttledAudit) closeLocked(key string, w *throttledWindow) []store.AuditEntry {
	delete(a.open, key)
	w.timer.Stop()
	if w.more == 0 {
		return nil
	}
	e := w.entry
	end := w.start.Add(throttledAuditWindow)
	e.TS, e.Detail = end.Unix(), throttledDetail(w.scope, w.more, w.start)
	return []store.AuditEntry{e}
}

func throttledDetail(scope throttleScope, count int, since time.Time) string {
	b, _ := json.Marshal(map[string]any{"scope": scope, "count": count, "since": since.Unix(), "window_s": int(throttledAuditWindow.Seconds())})
	return string(b)
}
