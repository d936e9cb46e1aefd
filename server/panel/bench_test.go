package panel_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// Scale of the panel benchmark: what a busy small business accumulates in
// a few years. PFORTE_BENCH_MESSAGES lowers it for a quick look.
const (
	benchConversations = 100_000
	benchMessages      = 1_000_000
)

// seedScale fills the database with SQL alone: contacts, conversations,
// messages (60 % inbound), receipts, labels, notes and audit lines.
func seedScale(b *testing.B, st *store.Store, convs, msgs int) {
	ctx := context.Background()
	now := time.Now().Unix()
	start := time.Now()
	step := int64(365*86400) / int64(msgs) // messages spread over a year
	err := st.Write(ctx, func(tx *store.Tx) error {
		stmts := []struct {
			q    string
			args []any
		}{
			{`INSERT INTO business_numbers(id, phone_number_id, waba_id, display_phone_number, created_at) VALUES
				(1, '106540352242922', '1234', '4930123456', ?), (2, '106540352242923', '1234', '4940654321', ?)`, []any{now, now}},
			{`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				INSERT INTO contacts(id, wa_id, name, created_at, updated_at)
				SELECT i, '4917' || printf('%09d', i), 'Kundin ' || i, ?, ? FROM n`, []any{convs, now - 400*86400, now}},
			{`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				INSERT INTO conversations(id, business_number_id, contact_id, status, assignee_id, last_message_at, unread, created_at, updated_at)
				SELECT i, 1 + i % 2, i, CASE WHEN i % 4 = 0 THEN 'open' ELSE 'closed' END,
					CASE i % 6 WHEN 0 THEN 1 WHEN 1 THEN 2 END, 0, CASE WHEN i % 9 = 0 THEN i % 4 ELSE 0 END, ?, ? FROM n`, []any{convs, now - 400*86400, now}},
			{`WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?)
				INSERT INTO messages(wamid, conversation_id, direction, type, text, status, ts, created_at)
				SELECT 'wamid.bench.' || i, 1 + i % ?, CASE WHEN i % 5 < 3 THEN 'inbound' ELSE 'outbound' END, 'text',
					CASE i % 8 WHEN 0 THEN 'Ist meine Bestellung ' || (i % 9973) || ' schon unterwegs?'
						WHEN 1 THEN 'Vielen Dank für die schnelle Antwort!'
						WHEN 2 THEN 'Können wir den Termin am Donnerstag verschieben?'
						WHEN 3 THEN 'Die Rechnung ' || (i % 7919) || ' ist angekommen.'
						WHEN 4 THEN 'Guten Tag, ich habe eine Frage zur Lieferung.'
						WHEN 5 THEN 'Das Paket ' || (i % 4999) || ' ist heute in der Zustellung.'
						WHEN 6 THEN 'Haben Sie samstags geöffnet?'
						ELSE 'Bitte schicken Sie mir das Angebot als PDF.' END,
					CASE WHEN i % 5 >= 3 THEN CASE i % 50 WHEN 3 THEN 'failed' WHEN 4 THEN 'sent' ELSE 'read' END END,
					? + i * ?, ? FROM n`, []any{msgs, convs, now - int64(msgs)*step, step, now}},
			{`UPDATE conversations SET
				last_message_at = coalesce((SELECT max(ts) FROM messages WHERE conversation_id = conversations.id), created_at),
				last_inbound_at = (SELECT max(ts) FROM messages WHERE conversation_id = conversations.id AND direction = 'inbound')`, nil},
			{`INSERT INTO labels(id, name, color, created_at) VALUES (1, 'Reklamation', 'red', 0), (2, 'Termin', 'blue', 0), (3, 'Angebot', 'green', 0)`, nil},
			{`INSERT INTO conversation_labels(conversation_id, label_id) SELECT id, 1 + id % 3 FROM conversations WHERE id % 7 = 0`, nil},
			{`INSERT INTO notes(conversation_id, author_id, body, created_at) SELECT id, 2, 'Rückruf vereinbart', ? FROM conversations WHERE id % 11 = 0`, []any{now}},
			// Customers who asked for erasure under a legal hold are
			// restricted (Art. 18) and hidden from agents: one in
			// PFORTE_BENCH_RESTRICTED_EVERY (default 1000).
			{`INSERT INTO erasure_requests(contact_id, subject, state, actor, requested_at)
				SELECT id, 'bench' || id, 'restricted', 'user:1', ? FROM contacts WHERE id % ? = 0`, []any{now, restrictedEvery()}},
		}
		for _, s := range stmts {
			if _, err := tx.Exec(s.q, s.args...); err != nil {
				return fmt.Errorf("%.60s: %w", s.q, err)
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 2000 {
		if err := st.Audit(ctx, store.AuditEntry{Actor: "user:1", Action: "login.success", IP: "192.0.2." + strconv.Itoa(i%250)}); err != nil {
			b.Fatal(err)
		}
	}
	fmt.Printf("seeded %d conversations and %d messages in %s\n", convs, msgs, time.Since(start).Round(time.Millisecond))
}

func restrictedEvery() int {
	if v, err := strconv.Atoi(os.Getenv("PFORTE_BENCH_RESTRICTED_EVERY")); err == nil && v > 0 {
		return v
	}
	return 1000
}

// BenchmarkPanelPages renders the panel's main pages server-side (the
// whole handler: session, queries, templates) on a large database and
// prints the timings; the target is under 50 ms per page.
func BenchmarkPanelPages(b *testing.B) {
	convs, msgs := benchConversations, benchMessages
	if v, err := strconv.Atoi(os.Getenv("PFORTE_BENCH_MESSAGES")); err == nil && v > 0 {
		msgs, convs = v, max(v/10, 1)
	}
	// PFORTE_BENCH_DIR keeps the seeded database between runs (for
	// studying query plans); by default each run seeds a temporary one.
	dir := os.Getenv("PFORTE_BENCH_DIR")
	_, statErr := os.Stat(filepath.Join(dir, store.DBFile))
	seeded := dir != "" && statErr == nil
	g := testenv.New(b, testenv.Options{Dir: dir})
	var admin, agent *store.User
	if seeded {
		admin, _ = g.Store.UserByEmail(context.Background(), "admin@example.de")
		agent, _ = g.Store.UserByEmail(context.Background(), "agent@example.de")
	} else {
		admin = addUser(b, g.Store, "admin@example.de", store.RoleAdmin)
		agent = addUser(b, g.Store, "agent@example.de", store.RoleAgent)
		seedScale(b, g.Store, convs, msgs)
	}
	token := fmt.Sprintf("bench-session-token-%d", time.Now().UnixNano())
	if _, err := g.Store.CreateSession(context.Background(), token, store.Session{UserID: admin.ID}, ""); err != nil {
		b.Fatal(err)
	}
	// Agents' pages leave restricted contacts out in the queries.
	agentToken := fmt.Sprintf("bench-agent-token-%d", time.Now().UnixNano())
	if _, err := g.Store.CreateSession(context.Background(), agentToken, store.Session{UserID: agent.ID}, ""); err != nil {
		b.Fatal(err)
	}
	h := g.Gateway.PublicHandler(g.Panel.Handler())
	busy := int64(convs) // the newest conversation
	pages := []struct{ name, path string }{
		{"inbox (open, all)", "/inbox?assigned=all&status=open"},
		{"inbox (mine)", "/inbox?assigned=mine&status=open"},
		{"inbox (unassigned, label)", "/inbox?assigned=unassigned&status=all&label=2"},
		{"inbox list fragment", "/inbox/list?assigned=all&status=all"},
		{"conversation", fmt.Sprintf("/conversations/%d?assigned=all&status=open", busy)},
		{"thread fragment", fmt.Sprintf("/conversations/%d/thread", busy)},
		{"contacts", "/contacts"},
		{"contacts search", "/contacts?q=Kundin%2012345"},
		{"message search (FTS)", "/search?q=Rechnung%20angekommen"},
		{"templates", "/templates"},
		{"dashboard", "/dashboard"},
		{"dashboard (recomputed)", "/dashboard?fresh=1"},
		{"settings", "/settings"},
		{"audit log", "/audit"},
		{"agent: inbox (open, all)", "agent:/inbox?assigned=all&status=open"},
		{"agent: conversation", fmt.Sprintf("agent:/conversations/%d?assigned=all&status=open", busy-1)},
		{"agent: contacts", "agent:/contacts"},
		{"agent: contacts search", "agent:/contacts?q=Kundin%2012345"},
		{"agent: message search (FTS)", "agent:/search?q=Rechnung%20angekommen"},
	}
	get := func(path string) {
		tok := token
		if p, ok := strings.CutPrefix(path, "agent:"); ok {
			path, tok = p, agentToken
		}
		req := httptest.NewRequest(http.MethodGet, path, nil)
		req.AddCookie(&http.Cookie{Name: "pforte", Value: tok})
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("%s: %d %.200s", path, rec.Code, rec.Body.String())
		}
	}
	// The table: 30 renders per page after one warm-up.
	fmt.Printf("\n%-28s %9s %9s %9s\n", "page", "p50 ms", "p95 ms", "max ms")
	for _, p := range pages {
		get(p.path)
		var d []time.Duration
		for range 30 {
			t0 := time.Now()
			get(p.path)
			d = append(d, time.Since(t0))
		}
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		ms := func(x time.Duration) float64 { return float64(x.Microseconds()) / 1000 }
		fmt.Printf("%-28s %9.2f %9.2f %9.2f\n", p.name, ms(d[len(d)/2]), ms(d[len(d)*95/100]), ms(d[len(d)-1]))
	}
	for _, p := range pages {
		b.Run(p.name, func(b *testing.B) {
			for b.Loop() {
				get(p.path)
			}
		})
	}
}
