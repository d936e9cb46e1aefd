package panel_test

import (
	"bufio"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// stream is an open live event stream; lines receives what it sends and
// is closed when the server ends it.
type stream struct {
	lines chan string
}

func openStream(t *testing.T, b *browser) *stream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, b.base+"/events", nil)
	// The browser's client has an overall timeout; a stream has none.
	resp, err := (&http.Client{Jar: b.client.Jar}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		t.Fatalf("events: %d", resp.StatusCode)
	}
	s := &stream{lines: make(chan string, 64)}
	r := bufio.NewReader(resp.Body)
	if line, _ := r.ReadString('\n'); !strings.HasPrefix(line, "retry:") {
		t.Fatalf("first line %q", line)
	}
	go func() {
		defer resp.Body.Close()
		defer close(s.lines)
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				return
			}
			s.lines <- line
		}
	}()
	return s
}

// ended waits until the server closes the stream, failing the test if any
// event came through before or the stream stays open.
func (s *stream) ended(t *testing.T, what string) {
	t.Helper()
	deadline := time.After(15 * time.Second)
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				return
			}
			if strings.HasPrefix(line, "data:") && line != "data: {}\n" {
				t.Fatalf("%s: the stream passed on an event: %q", what, line)
			}
		case <-deadline:
			t.Fatalf("%s: the stream is still open", what)
		}
	}
}

// The stream ends with its session (logout, idle and absolute timeout, a
// disabled or deleted user) and when the role loses the inbox: at the next
// periodic check when nothing happens, and before an event is passed on.
func TestPanelEventStreamEndsWithItsSession(t *testing.T) {
	exec := func(g *testenv.Gateway, q string, args ...any) {
		if err := g.Store.Write(context.Background(), func(tx *store.Tx) error {
			_, err := tx.Exec(q, args...)
			return err
		}); err != nil {
			t.Fatal(err)
		}
	}
	ends := map[string]func(g *testenv.Gateway, b *browser, u *store.User){
		"logout": func(g *testenv.Gateway, b *browser, u *store.User) {
			if p := b.post("/logout", nil); p.status != http.StatusSeeOther {
				t.Fatalf("logout: %d", p.status)
			}
		},
		"idle timeout": func(g *testenv.Gateway, b *browser, u *store.User) {
			exec(g, "UPDATE sessions SET last_seen_at = last_seen_at - 3*3600 WHERE user_id = ?", u.ID)
		},
		"absolute timeout": func(g *testenv.Gateway, b *browser, u *store.User) {
			exec(g, "UPDATE sessions SET created_at = created_at - 13*3600 WHERE user_id = ?", u.ID)
		},
		"user disabled": func(g *testenv.Gateway, b *browser, u *store.User) {
			exec(g, "UPDATE users SET disabled_at = 1 WHERE id = ?", u.ID)
		},
		"user deleted": func(g *testenv.Gateway, b *browser, u *store.User) {
			exec(g, "DELETE FROM sessions WHERE user_id = ?", u.ID)
			exec(g, "DELETE FROM users WHERE id = ?", u.ID)
		},
		"role without the inbox": func(g *testenv.Gateway, b *browser, u *store.User) {
			if err := g.Store.SetRole(context.Background(), u.ID, store.RoleAuditor); err != nil {
				t.Fatal(err)
			}
		},
	}
	for name, end := range ends {
		t.Run(name+"/periodic check", func(t *testing.T) {
			t.Parallel()
			g := testenv.New(t, testenv.Options{Panel: panel.Config{StreamCheck: 50 * time.Millisecond}})
			u := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
			b := sessionFor(t, g, u)
			s := openStream(t, b)
			end(g, b, u)
			s.ended(t, name)
		})
		t.Run(name+"/before an event", func(t *testing.T) {
			t.Parallel()
			// No periodic check within the test: the event itself must
			// trigger one, and must not reach the ended session.
			g := testenv.New(t, testenv.Options{Panel: panel.Config{StreamCheck: time.Hour}})
			u := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
			b := sessionFor(t, g, u)
			s := openStream(t, b)
			g.Panel.Publish(panel.Event{Kind: "message", Conversation: 1})
			for line := range s.lines {
				if line == "event: change\n" {
					break
				}
			}
			if line := <-s.lines; !strings.HasPrefix(line, "data:") {
				t.Fatalf("a live session got %q, want the event's data", line)
			}
			end(g, b, u)
			g.Panel.Publish(panel.Event{Kind: "message", Conversation: 1, Title: "Erika Mustermann"})
			s.ended(t, name)
		})
	}
}

// An auditor's panel tab asks for the stream (and retries); refusing it
// must not write an audit row each time.
func TestPanelEventStreamRefusalIsNotAudited(t *testing.T) {
	f := newPanelFixture(t)
	b := sessionFor(t, f.g, f.auditor)
	count := func() int {
		var n int
		if err := f.g.Store.Write(context.Background(), func(tx *store.Tx) error {
			return tx.QueryRow("SELECT count(*) FROM audit_log").Scan(&n)
		}); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for range 5 {
		if p := b.get("/events"); p.status != http.StatusForbidden {
			t.Fatalf("auditor events: %d", p.status)
		}
	}
	if n := count(); n != before {
		t.Fatalf("5 refused streams wrote %d audit rows", n-before)
	}
	// Other refusals are still audited.
	if p := b.get("/inbox"); p.status != http.StatusForbidden {
		t.Fatalf("auditor inbox: %d", p.status)
	}
	if n := count(); n != before+1 {
		t.Fatalf("a refused page wrote %d audit rows, want 1", n-before)
	}
}
