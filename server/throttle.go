package server

import (
	"sync"
	"time"
)

// throttle counts failed logins per key (an account or an IP address) in a
// sliding window and locks a key out once it has too many. It is checked
// before any password is hashed, so a locked key costs no CPU.
type throttle struct {
	mu     sync.Mutex
	limit  int
	window time.Duration
	lock   time.Duration
	keys   map[string]*throttleEntry
}

type throttleEntry struct {
	fails       []time.Time
	lockedUntil time.Time
	lockouts    int
}

func newThrottle(limit int, window, lock time.Duration) *throttle {
	return &throttle{limit: limit, window: window, lock: lock, keys: map[string]*throttleEntry{}}
}

// blocked reports whether key is locked out and until when.
func (t *throttle) blocked(key string, now time.Time) (bool, time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil || !now.Before(e.lockedUntil) {
		return false, time.Time{}
	}
	return true, e.lockedUntil
}

// fail records a failure and reports whether it caused a lockout. Each
// further lockout doubles in length (exponential back-off), up to a day.
func (t *throttle) fail(key string, now time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.keys[key]
	if e == nil {
		e = &throttleEntry{}
		t.keys[key] = e
	}
	cut := now.Add(-t.window)
	kept := e.fails[:0]
	for _, f := range e.fails {
		if f.After(cut) {
			kept = append(kept, f)
		}
	}
	e.fails = append(kept, now)
	if len(e.fails) < t.limit {
		return false
	}
	d := t.lock << min(e.lockouts, 6)
	d = min(d, 24*time.Hour)
	e.lockedUntil, e.fails = now.Add(d), nil
	e.lockouts++
	if len(t.keys) > 100_000 {
		t.prune(now)
	}
	return true
}

// success forgets an account's failures after a good login.
func (t *throttle) success(key string) {
	t.mu.Lock()
	delete(t.keys, key)
	t.mu.Unlock()
}

// prune drops entries that are neither locked nor recent, bounding memory
// when an attacker rotates through many keys.
func (t *throttle) prune(now time.Time) {
	for k, e := range t.keys {
		if now.After(e.lockedUntil) && (len(e.fails) == 0 || now.Sub(e.fails[len(e.fails)-1]) > t.window) {
			delete(t.keys, k)
		}
	}
}
