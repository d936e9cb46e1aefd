package panel_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

// TestSettingsShowReplicaStatus: admins see the off-site replication's
// state read-only on the settings page, German and English, as the status
// source reports it (redacted target, encryption, last sync, lag, last
// error, retention); agents do not reach the page.
func TestSettingsShowReplicaStatus(t *testing.T) {
	var mu sync.Mutex
	sync1 := time.Date(2026, 12, 5, 9, 30, 0, 0, time.UTC)
	cur := &web.ReplicaVM{Target: "s3://pforte/primary?endpoint=https%3A%2F%2Ffsn1.your-objectstorage.com", Encrypted: true, Reported: true,
		LastSync: sync1, LagSeconds: 3, Retention: 72 * time.Hour}
	g := testenv.New(t, testenv.Options{Panel: panel.Config{Replica: func() *web.ReplicaVM {
		mu.Lock()
		defer mu.Unlock()
		c := *cur
		return &c
	}}})
	admin := addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	b := newBrowser(t, g.Public.URL)
	b.login("admin@example.de")

	p := b.get("/settings")
	if p.status != 200 {
		t.Fatalf("settings: %d", p.status)
	}
	for _, want := range []string{"Off-site-Replikation", "s3://pforte/primary", "Verschlüsselt", "ja", "Letzte Synchronisierung", "3 s", "keiner", "72 Stunden"} {
		if !strings.Contains(p.body, want) {
			t.Errorf("German settings page lacks %q", want)
		}
	}

	mu.Lock()
	cur.Encrypted, cur.LagSeconds, cur.LastError, cur.LastErrorAt = false, 420, "bucket unreachable: connection refused", sync1.Add(time.Minute)
	mu.Unlock()
	if err := g.Store.SetPreferences(context.Background(), admin.ID, "en", false); err != nil {
		t.Fatal(err)
	}
	en := b.get("/settings")
	for _, want := range []string{"Off-site replication", "Encrypted", "no", "Last sync", "420 s", "bucket unreachable: connection refused", "72 hours"} {
		if !strings.Contains(en.body, want) {
			t.Errorf("English settings page lacks %q", want)
		}
	}
	if strings.Contains(en.body, "Aufbewahrung im Bucket") {
		t.Error("English page shows the German retention label")
	}

	agent := newBrowser(t, g.Public.URL)
	agent.login("agent@example.de")
	if p := agent.get("/settings"); p.status == 200 && strings.Contains(p.body, "s3://pforte/primary") {
		t.Fatal("an agent sees the replica settings")
	}
}

// Without replication the page says so and what it means.
func TestSettingsReplicaOff(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	b := newBrowser(t, g.Public.URL)
	b.login("admin@example.de")
	p := b.get("/settings")
	if !strings.Contains(p.body, "Nicht eingerichtet") || !strings.Contains(p.body, `data-testid="replica"`) {
		t.Fatalf("settings page without replication does not say it is off")
	}
}
