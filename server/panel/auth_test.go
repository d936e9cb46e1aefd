package panel_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/argon2"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
)

// cheapHash is an argon2id hash of pw at the lowest cost the server accepts,
// so that tests which guess wrong many times are not slowed by argon2's
// real cost (the server reads the cost from the stored hash).
func cheapHash(pw string) string {
	salt := []byte("0123456789abcdef")
	key := argon2.IDKey([]byte(pw), salt, 1, 1024, 1, 32)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=1024,t=1,p=1$%s$%s", argon2.Version, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// addCheapUser creates an account whose password checks cost little.
func addCheapUser(t testing.TB, st *store.Store, email string, role store.Role) *store.User {
	t.Helper()
	u, err := st.CreateUser(context.Background(), store.NewUser{Email: email, Name: strings.Split(email, "@")[0], Role: role, PasswordHash: cheapHash(testPassword)}, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// testClock is a clock the test moves by hand.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// authGateway is a gateway on a hand-moved clock behind a trusted reverse
// proxy on loopback, so that each test client can name its own address in
// X-Forwarded-For, as browsers behind a real proxy would.
func authGateway(t *testing.T) (*testenv.Gateway, *testClock, string) {
	t.Helper()
	g := testenv.New(t, testenv.Options{})
	clk := &testClock{now: time.Now()}
	g.Panel.SetClock(clk.Now)
	front := httptest.NewServer(tlsmgr.TrustProxies([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}, "X-Forwarded-For", g.Gateway.PublicHandler(g.Panel.Handler())))
	t.Cleanup(front.Close)
	return g, clk, front.URL
}

// client is a browser at one address.
type client struct {
	*browser
	ip string
}

func newClient(t *testing.T, base, ip string) *client { return &client{newBrowser(t, base), ip} }

func (c *client) post(path string, form url.Values) page {
	c.t.Helper()
	return c.do(http.MethodPost, path, form, map[string]string{"X-Forwarded-For": c.ip})
}

func (c *client) login(email, pw string) page {
	c.t.Helper()
	return c.post("/login", url.Values{"email": {email}, "password": {pw}})
}

func loggedIn(p page) bool { return p.status == http.StatusSeeOther && p.header.Get("Location") == "/" }

// TestLoginLockoutIsNoWeapon: guessing wrong on purpose, from one address
// or from many, does not keep the owner out. Before, five wrong guesses
// from anywhere locked the account for everybody for ten minutes and more.
func TestLoginLockoutIsNoWeapon(t *testing.T) {
	g, clk, base := authGateway(t)
	addCheapUser(t, g.Store, "owner@example.de", store.RoleAdmin)
	home := newClient(t, base, "198.51.100.10")
	if p := home.login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("first login: %d", p.status)
	}

	// One attacker address, 50 wrong guesses in a burst: only the first
	// pairLimit are even checked, the rest are refused before hashing.
	attacker := newClient(t, base, "203.0.113.66")
	hashes := g.Panel.ArgonCalls()
	for i := range 50 {
		p := attacker.login("owner@example.de", fmt.Sprintf("falsch-falsch-%02d", i))
		want := http.StatusUnauthorized
		if i >= panel.PairLimit {
			want = http.StatusTooManyRequests
		}
		if p.status != want {
			t.Fatalf("guess %d: %d, want %d", i, p.status, want)
		}
	}
	if n := g.Panel.ArgonCalls() - hashes; n != int64(panel.PairLimit) {
		t.Fatalf("%d hashes for 50 guesses, want %d", n, panel.PairLimit)
	}
	// The attacker stays throttled, even with the right password.
	if p := attacker.login("owner@example.de", testPassword); p.status != http.StatusTooManyRequests {
		t.Fatalf("attacker address after 50 guesses: %d, want 429", p.status)
	}
	// The owner gets in at once: from the known browser, and from another
	// browser at the address with a live session.
	if p := home.login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("owner from the known-good browser: %d", p.status)
	}
	if p := newClient(t, base, "198.51.100.10").login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("owner from the known-good address: %d", p.status)
	}

	// Twenty addresses, each guessing after the last lock ended, drive the
	// account's global back-off to its cap.
	for i := range 20 {
		clk.Advance(panel.AccountMax)
		if p := newClient(t, base, fmt.Sprintf("192.0.2.%d", i+1)).login("owner@example.de", "falsch-falsch-verteilt"); p.status != http.StatusUnauthorized {
			t.Fatalf("distributed guess %d: %d", i, p.status)
		}
	}
	// The known browser is not held back at all, even from a new address
	// (the laptop in a hotel): its device cookie remembers it.
	if p := home.login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("owner from the known-good browser after a distributed attack: %d", p.status)
	}
	if p := (&client{home.browser, "203.0.113.201"}).login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("owner's known browser from a new address: %d", p.status)
	}
	// A new place waits out the account's short back-off, never longer.
	hotel := newClient(t, base, "203.0.113.200")
	if p := hotel.login("owner@example.de", testPassword); p.status != http.StatusTooManyRequests {
		t.Fatalf("new address during the attack: %d, want 429", p.status)
	}
	clk.Advance(panel.AccountMax)
	if p := hotel.login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("new address after %v: %d", panel.AccountMax, p.status)
	}
}

// TestLoginKnownGoodCapsOwnLock: even a known-good browser that guessed
// wrong itself waits at most knownGoodMaxLock, not the hour an unknown
// address would.
func TestLoginKnownGoodCapsOwnLock(t *testing.T) {
	g, clk, base := authGateway(t)
	addCheapUser(t, g.Store, "owner@example.de", store.RoleAgent)
	home := newClient(t, base, "198.51.100.10")
	if p := home.login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("first login: %d", p.status)
	}
	stranger := newClient(t, base, "203.0.113.9")
	// The stranger goes first: the owner's typos also feed the account's
	// short back-off, which only the known-good browser skips.
	for range 12 { // each failure after a lock doubles it, up to pairMax
		for _, c := range []*client{stranger, home} {
			if p := c.login("owner@example.de", "vertippt-vertippt"); p.status != http.StatusUnauthorized {
				t.Fatalf("typo from %s: %d", c.ip, p.status)
			}
		}
		clk.Advance(panel.PairMax)
	}
	for _, c := range []*client{stranger, home} {
		if p := c.login("owner@example.de", "vertippt-vertippt"); p.status != http.StatusUnauthorized {
			t.Fatalf("last typo from %s: %d", c.ip, p.status)
		}
	}
	clk.Advance(panel.KnownGoodMaxLock)
	if p := home.login("owner@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("known-good browser after %v: %d", panel.KnownGoodMaxLock, p.status)
	}
	if p := stranger.login("owner@example.de", testPassword); p.status != http.StatusTooManyRequests {
		t.Fatalf("unknown address after %v: %d, want 429 (its lock is %v)", panel.KnownGoodMaxLock, p.status, panel.PairMax)
	}
}

// TestLoginThrottlePerAddressAcrossAccounts: one address spraying many
// accounts is stopped, others are not, and its lock grows.
func TestLoginThrottlePerAddressAcrossAccounts(t *testing.T) {
	g, clk, base := authGateway(t)
	addCheapUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	for i := range panel.IPLimit + 2 {
		addCheapUser(t, g.Store, fmt.Sprintf("user%d@example.de", i), store.RoleAgent)
	}
	sprayer := newClient(t, base, "2001:db8:bad:1::1")
	for i := range panel.IPLimit {
		if p := sprayer.login(fmt.Sprintf("user%d@example.de", i), "Sommer2026!Sommer"); p.status != http.StatusUnauthorized {
			t.Fatalf("spray %d: %d", i, p.status)
		}
	}
	// The whole /64 is one address, and the right password does not help.
	hashes := g.Panel.ArgonCalls()
	neighbour := newClient(t, base, "2001:db8:bad:1:ffff::2")
	if p := neighbour.login("admin@example.de", testPassword); p.status != http.StatusTooManyRequests {
		t.Fatalf("same /64 after %d failures: %d, want 429", panel.IPLimit, p.status)
	}
	if g.Panel.ArgonCalls() != hashes {
		t.Fatal("a throttled attempt was hashed")
	}
	if p := newClient(t, base, "2001:db8:900d:1::1").login("admin@example.de", testPassword); !loggedIn(p) {
		t.Fatalf("another address: %d", p.status)
	}
	// The lock doubles: one more failure after a minute locks for two.
	clk.Advance(time.Minute)
	if p := sprayer.login("user30@example.de", "Sommer2026!Sommer"); p.status != http.StatusUnauthorized {
		t.Fatalf("after the first lock: %d", p.status)
	}
	clk.Advance(time.Minute + 30*time.Second)
	if p := sprayer.login("user31@example.de", "Sommer2026!Sommer"); p.status != http.StatusTooManyRequests {
		t.Fatalf("second lock should last two minutes: %d", p.status)
	}
	clk.Advance(time.Minute)
	if p := sprayer.login("user31@example.de", "Sommer2026!Sommer"); p.status != http.StatusUnauthorized {
		t.Fatalf("after the second lock: %d", p.status)
	}
}

// TestThrottledLoginsAuditedPerMinute: a locked-out address hammering the
// login writes a handful of audit rows with a count, not one row each.
func TestThrottledLoginsAuditedPerMinute(t *testing.T) {
	g, clk, base := authGateway(t)
	addCheapUser(t, g.Store, "owner@example.de", store.RoleAdmin)
	attacker := newClient(t, base, "203.0.113.66")
	for range panel.PairLimit {
		attacker.login("owner@example.de", "falsch-falsch-falsch")
	}
	clk.Advance(time.Minute + time.Second) // lock two: two minutes
	attacker.login("owner@example.de", "falsch-falsch-falsch")
	const hammer = 500
	for i := range hammer {
		if p := attacker.login("owner@example.de", "falsch-falsch-falsch"); p.status != http.StatusTooManyRequests {
			t.Fatalf("attempt %d: %d", i, p.status)
		}
	}
	rows := throttledRows(t, g.Store)
	if len(rows) > 2 {
		t.Fatalf("%d audit rows for %d throttled attempts", len(rows), hammer)
	}
	// The next minute's first attempt writes the last one's count.
	clk.Advance(panel.AuditWindow)
	if p := attacker.login("owner@example.de", "falsch-falsch-falsch"); p.status != http.StatusTooManyRequests {
		t.Fatalf("attempt in the next minute: %d", p.status)
	}
	rows = throttledRows(t, g.Store)
	total := 0
	for _, e := range rows {
		var d struct {
			Count int    `json:"count"`
			Scope string `json:"scope"`
		}
		if err := json.Unmarshal([]byte(e.Detail), &d); err != nil || d.Count < 1 || d.Scope != "pair" || e.IP != "203.0.113.66" {
			t.Fatalf("row %+v: %v", e, err)
		}
		total += d.Count
	}
	if len(rows) > 4 || total != hammer+1 {
		t.Fatalf("%d rows counting %d attempts, want at most 4 counting %d", len(rows), total, hammer+1)
	}
	if id, err := g.Store.VerifyAuditChain(context.Background()); err != nil || id != 0 {
		t.Fatalf("audit chain broken at %d: %v", id, err)
	}
}

func throttledRows(t *testing.T, st *store.Store) []store.AuditEntry {
	t.Helper()
	entries, err := st.AuditLog(context.Background(), 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []store.AuditEntry
	for _, e := range entries {
		if e.Action == "login.throttled" {
			out = append(out, e)
		}
	}
	return out
}

// TestSetupIs404OnceAUserExists: the first-run form is gone, and a POST
// to it hashes nothing (it used to hash before finding out).
func TestSetupIs404OnceAUserExists(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	addCheapUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	b := newBrowser(t, g.Public.URL)
	hashes := g.Panel.ArgonCalls()
	if p := b.get("/setup"); p.status != http.StatusNotFound {
		t.Fatalf("GET /setup: %d, want 404", p.status)
	}
	if p := b.post("/setup", url.Values{"name": {"Mallory"}, "email": {"m@evil.example"}, "password": {testPassword}}); p.status != http.StatusNotFound {
		t.Fatalf("POST /setup: %d, want 404", p.status)
	}
	if n := g.Panel.ArgonCalls() - hashes; n != 0 {
		t.Fatalf("POST /setup hashed %d times", n)
	}
	if n, _ := g.Store.CountUsers(context.Background()); n != 1 {
		t.Fatalf("users = %d", n)
	}
}
