package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustUser(t *testing.T, s *Store, email string, role Role) *User {
	t.Helper()
	u, err := s.CreateUser(context.Background(), NewUser{Email: email, Name: email, Role: role, PasswordHash: "x"}, false)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestUsersFirstRunRaceMakesOneAdmin(t *testing.T) {
	s := openTest(t, Options{})
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = s.CreateUser(context.Background(), NewUser{Email: fmt.Sprintf("a%d@x.de", i), Role: RoleAdmin}, true)
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else if !errors.Is(err, ErrExists) {
			t.Fatal(err)
		}
	}
	if n, _ := s.CountUsers(context.Background()); ok != 1 || n != 1 {
		t.Fatalf("%d setups succeeded, %d users", ok, n)
	}
}

func TestUsersRulesAndLastAdmin(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	a := mustUser(t, s, "Chef@Example.de", RoleAdmin)
	if _, err := s.CreateUser(ctx, NewUser{Email: "chef@example.DE", Role: RoleAgent}, false); !errors.Is(err, ErrExists) {
		t.Fatalf("case-insensitive duplicate: %v", err)
	}
	if _, err := s.CreateUser(ctx, NewUser{Email: "x@y.de", Role: "root"}, false); err == nil {
		t.Fatal("unknown role accepted")
	}
	if u, err := s.UserByEmail(ctx, " chef@example.de "); err != nil || u.ID != a.ID {
		t.Fatalf("lookup: %v %v", u, err)
	}
	if err := s.SetRole(ctx, a.ID, RoleAgent); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("demoting the last admin: %v", err)
	}
	if err := s.SetDisabled(ctx, a.ID, true); !errors.Is(err, ErrLastAdmin) {
		t.Fatalf("disabling the last admin: %v", err)
	}
	b := mustUser(t, s, "zwei@example.de", RoleAdmin)
	if err := s.SetRole(ctx, a.ID, RoleAgent); err != nil {
		t.Fatal(err)
	}
	if _, err := s.CreateSession(ctx, "tok-b-0123456789012345", Session{UserID: b.ID}, ""); err != nil {
		t.Fatal(err)
	}
	mustUser(t, s, "drei@example.de", RoleAdmin)
	if err := s.SetDisabled(ctx, b.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionByToken(ctx, "tok-b-0123456789012345"); !errors.Is(err, ErrNotFound) {
		t.Fatal("disabling a user must end their sessions")
	}
}

func TestTOTPStepsAndRecoveryCodesAreSingleUse(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	u := mustUser(t, s, "a@x.de", RoleAgent)
	if err := s.EnableTOTP(ctx, u.ID, []byte("sealed"), []string{"h1", "h2"}, 100); err != nil {
		t.Fatal(err)
	}
	for step, want := range map[int64]bool{99: false, 100: false} {
		if ok, _ := s.UseTOTPStep(ctx, u.ID, step); ok != want {
			t.Errorf("step %d: %v", step, ok)
		}
	}
	if ok, _ := s.UseTOTPStep(ctx, u.ID, 101); !ok {
		t.Fatal("fresh step refused")
	}
	if ok, _ := s.UseTOTPStep(ctx, u.ID, 101); ok {
		t.Fatal("step replayed")
	}
	if ok, _ := s.UseRecoveryCode(ctx, u.ID, "h2"); !ok {
		t.Fatal("recovery code refused")
	}
	if ok, _ := s.UseRecoveryCode(ctx, u.ID, "h2"); ok {
		t.Fatal("recovery code reused")
	}
	got, _ := s.UserByID(ctx, u.ID)
	if strings.Join(got.RecoveryCodes, ",") != "h1" {
		t.Fatalf("codes left: %v", got.RecoveryCodes)
	}
}

func TestInvitesExpireAndWorkOnce(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	u, _ := s.CreateUser(ctx, NewUser{Email: "neu@x.de", Role: RoleAgent}, false)
	now := time.Now()
	if err := s.CreateInvite(ctx, u.ID, HashToken("old"), 0, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateInvite(ctx, u.ID, HashToken("new"), 0, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.InviteByToken(ctx, HashToken("old"), now); !errors.Is(err, ErrNotFound) {
		t.Fatal("a newer invite must void the older one")
	}
	if _, err := s.InviteByToken(ctx, HashToken("new"), now.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
		t.Fatal("expired invite accepted")
	}
	if _, err := s.AcceptInvite(ctx, HashToken("new"), "hash", now); err != nil {
		t.Fatal(err)
	}
	if _, err := s.AcceptInvite(ctx, HashToken("new"), "hash2", now); !errors.Is(err, ErrNotFound) {
		t.Fatal("invite used twice")
	}
	got, _ := s.UserByID(ctx, u.ID)
	if got.PasswordHash != "hash" {
		t.Fatalf("password %q", got.PasswordHash)
	}
}

func TestSessionsRotateAndExpire(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	u := mustUser(t, s, "a@x.de", RoleAgent)
	if _, err := s.CreateSession(ctx, "first-token-0123456789", Session{UserID: u.ID, MFAPending: true}, ""); err != nil {
		t.Fatal(err)
	}
	if err := s.CompleteMFA(ctx, "first-token-0123456789", "second-token-0123456789"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionByToken(ctx, "first-token-0123456789"); !errors.Is(err, ErrNotFound) {
		t.Fatal("pre-MFA token still valid")
	}
	sess, got, err := s.SessionByToken(ctx, "second-token-0123456789")
	if err != nil || sess.MFAPending || got.Email != "a@x.de" {
		t.Fatalf("%+v %v", sess, err)
	}
	if err := s.CompleteMFA(ctx, "second-token-0123456789", "third-token-0123456789"); !errors.Is(err, ErrNotFound) {
		t.Fatal("a complete session must not be 'completed' again")
	}
	// Replacing: a new login deletes the browser's old session.
	if _, err := s.CreateSession(ctx, "fourth-token-0123456789", Session{UserID: u.ID}, "second-token-0123456789"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.SessionByToken(ctx, "second-token-0123456789"); !errors.Is(err, ErrNotFound) {
		t.Fatal("replaced session still valid")
	}
	n, err := s.DeleteExpiredSessions(ctx, time.Now().Add(time.Hour), time.Now().Add(-time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("expired: %d %v", n, err)
	}
	// Only hashes are stored.
	raw, _ := os.ReadFile(filepath.Join(s.Dir(), DBFile+"-wal"))
	db, _ := os.ReadFile(s.Path())
	if strings.Contains(string(raw)+string(db), "fourth-token") {
		t.Fatal("session token stored in the clear")
	}
}

func TestSealedSecrets(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	if err := s.SetSecret(ctx, "meta.access_token", []byte("EAAG-very-secret")); err != nil {
		t.Fatal(err)
	}
	v, ok, err := s.Secret(ctx, "meta.access_token")
	if err != nil || !ok || string(v) != "EAAG-very-secret" {
		t.Fatalf("%q %v %v", v, ok, err)
	}
	sealed, _ := s.Seal([]byte("x"), "a")
	if _, err := s.Unseal(sealed, "b"); err == nil {
		t.Fatal("a value sealed for one purpose opened for another")
	}
	s.Close()
	for _, f := range []string{DBFile, DBFile + "-wal"} {
		b, _ := os.ReadFile(filepath.Join(s.Dir(), f))
		if strings.Contains(string(b), "EAAG-very-secret") {
			t.Fatalf("secret in the clear in %s", f)
		}
	}
	if fi, err := os.Stat(filepath.Join(s.Dir(), KeyFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v %v", fi, err)
	}
}

func TestTemplatesNewestEventWins(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	ev := func(ts int64, event, cat string) Event {
		return Event{Field: "message_template_status_update", TS: ts, Value: []byte(fmt.Sprintf(
			`{"event":%q,"message_template_id":1,"message_template_name":"bestellung","message_template_language":"de","reason":null,"message_template_category":%q}`, event, cat))}
	}
	// Delivered out of order: the paused update (ts 300) comes first.
	for i, e := range []Event{ev(300, "PAUSED", ""), ev(100, "PENDING", "UTILITY"), ev(200, "APPROVED", "UTILITY"), {Field: "message_template_status_update", TS: 50, Value: []byte(`{broken`)}} {
		if _, err := s.Ingest(ctx, &Delivery{Body: []byte(fmt.Sprint("d", i)), ReceivedAt: time.Now(), Events: []Event{e}}); err != nil {
			t.Fatal(err)
		}
	}
	ts, err := s.Templates(ctx)
	if err != nil || len(ts) != 1 {
		t.Fatalf("%v %v", ts, err)
	}
	if ts[0].Status != "PAUSED" || ts[0].Category != "UTILITY" || ts[0].Usable() {
		t.Fatalf("%+v", ts[0])
	}
	if got := TemplateParams("Hallo {{1}}, {{ name }} und {{1}} {{2}}"); strings.Join(got, ",") != "1,name,2" {
		t.Fatalf("params %v", got)
	}
	if got := FillTemplate("Hallo {{1}}, {{2}}", map[string]string{"1": "Tom"}); got != "Hallo Tom, {{2}}" {
		t.Fatal(got)
	}
}

func inboundText(number, waID, name, wamid string, ts int64, text string) InboundMessage {
	m := InboundMessage{Number: Number{PhoneNumberID: number}, From: Party{WaID: waID, Name: name}, WAMID: wamid, Type: "text", TS: ts}
	m.Text.String, m.Text.Valid = text, true
	return m
}

func TestInboxFiltersAndPaging(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	agent := mustUser(t, s, "a@x.de", RoleAgent)
	var msgs []InboundMessage
	for i := range 30 {
		msgs = append(msgs, inboundText([]string{"111", "222"}[i%2], fmt.Sprintf("49170%03d", i), fmt.Sprintf("K%d", i), fmt.Sprintf("w%d", i), int64(1000+i), fmt.Sprintf("Nachricht Nummer %d", i)))
	}
	if _, err := s.Ingest(ctx, &Delivery{Body: []byte("x"), ReceivedAt: time.Now(), Messages: msgs}); err != nil {
		t.Fatal(err)
	}
	all, next, err := s.Conversations(ctx, ConversationFilter{Limit: 12})
	if err != nil || len(all) != 12 || next.ID == 0 || all[0].Contact.Name != "K29" || all[0].LastText != "Nachricht Nummer 29" {
		t.Fatalf("first page: %d %v %v", len(all), next, err)
	}
	seen := map[int64]bool{}
	cur := Cursor{}
	for {
		page, nx, err := s.Conversations(ctx, ConversationFilter{Limit: 7, Before: cur})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range page {
			if seen[c.ID] {
				t.Fatalf("conversation %d twice", c.ID)
			}
			seen[c.ID] = true
		}
		if nx.ID == 0 {
			break
		}
		cur = ParseCursor(nx.String())
	}
	if len(seen) != 30 {
		t.Fatalf("paging saw %d of 30", len(seen))
	}
	c5 := all[5].ID
	if err := s.Assign(ctx, c5, agent.ID); err != nil {
		t.Fatal(err)
	}
	l, _ := s.CreateLabel(ctx, "Termin", "blue")
	s.SetConversationLabel(ctx, all[7].ID, l.ID, true)
	s.SetConversationStatus(ctx, all[8].ID, "closed")
	for name, c := range map[string]struct {
		f    ConversationFilter
		want int
	}{
		"mine":       {ConversationFilter{Assigned: "mine", UserID: agent.ID}, 1},
		"unassigned": {ConversationFilter{Assigned: "unassigned"}, 29},
		"label":      {ConversationFilter{LabelID: l.ID}, 1},
		"closed":     {ConversationFilter{Status: "closed"}, 1},
		"open":       {ConversationFilter{Status: "open"}, 29},
		"number":     {ConversationFilter{NumberID: all[0].NumberID}, 15},
	} {
		got, _, err := s.Conversations(ctx, c.f)
		if err != nil || len(got) != c.want {
			t.Errorf("%s: %d, want %d (%v)", name, len(got), c.want, err)
		}
	}
	counts, _ := s.InboxCounts(ctx, agent.ID)
	if counts.Mine != 1 || counts.Unassigned != 28 || counts.All != 29 || counts.Unread != 29 {
		t.Fatalf("counts %+v", counts)
	}
	if err := s.Assign(ctx, c5, 999); !errors.Is(err, ErrNotFound) {
		t.Fatal("assigned to a missing user")
	}
}

// FuzzSearchQuery: whatever people type, the search runs (no FTS5 syntax
// error) and finds stored words.
func FuzzSearchQuery(f *testing.F) {
	ctx := context.Background()
	s, err := Open(ctx, f.TempDir(), Options{IsStopWord: testStopWord})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { s.Close() })
	s.Ingest(ctx, &Delivery{Body: []byte("x"), ReceivedAt: time.Now(), Messages: []InboundMessage{inboundText("1", "49", "K", "w", 1, "Die Rechnung für Müller ist da")}})
	for _, q := range []string{"rech", `"`, "AND OR NOT", "a*b", "NEAR(", "müller", "-x", "(", "^", ":", "*"} {
		f.Add(q)
	}
	f.Fuzz(func(t *testing.T, q string) {
		if _, err := s.SearchMessages(ctx, q, 10); err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
	})
}

func TestSearchFindsWordsAndPrefixes(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	s.Ingest(ctx, &Delivery{Body: []byte("x"), ReceivedAt: time.Now(), Messages: []InboundMessage{inboundText("1", "49", "K", "w", 1, "Die Rechnung für Müller ist da")}})
	for q, want := range map[string]int{"rechn": 1, "muller": 1, "Rechnung Müller": 1, "Angebot": 0, `"`: 0} {
		hits, err := s.SearchMessages(ctx, q, 10)
		if err != nil || len(hits) != want {
			t.Errorf("%q: %d hits, want %d (%v)", q, len(hits), want, err)
		}
		if want == 1 && !strings.Contains(hits[0].Snippet, MarkStart) {
			t.Errorf("%q: snippet without a mark: %q", q, hits[0].Snippet)
		}
	}
}

func TestAPIKeyUseIsAuditedOncePerMinute(t *testing.T) {
	s := openTest(t, Options{})
	ctx := context.Background()
	_, k, err := s.CreateAPIKey(ctx, "shop", Scopes{ScopeRead})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	for i := range 3 {
		if err := s.TouchAPIKey(ctx, k, now.Add(time.Duration(i)*time.Second)); err != nil {
			t.Fatal(err)
		}
		k.LastUsedAt = now.Unix() // as the next lookup would read it
	}
	if err := s.TouchAPIKey(ctx, k, now.Add(2*time.Minute)); err != nil {
		t.Fatal(err)
	}
	entries, _ := s.AuditLog(ctx, 0, 10)
	n := 0
	for _, e := range entries {
		if e.Action == "apikey.use" && e.Actor == KeyActor(k.Prefix) {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("apikey.use entries: %d, want 2", n)
	}
}
