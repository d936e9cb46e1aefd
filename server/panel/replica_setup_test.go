package panel_test

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// replicaSetupFor is what main hands the panel, on package replica, with
// Apply counted.
func replicaSetupFor(dir string, fixed panel.ReplicaFixed, applied *atomic.Int32) *panel.ReplicaSetup {
	return &panel.ReplicaSetup{DataDir: dir, Fixed: fixed,
		CheckURL: func(raw string) error { _, err := replica.ParseURL(raw); return err },
		NewKey:   replica.WriteNewIdentity,
		CheckKey: func(p string) error { _, err := replica.LoadIdentity(p); return err },
		Probe: func(ctx context.Context, u, ak, sk, pw string) error {
			return replica.Probe(ctx, replica.Config{URL: u}, replica.Credentials{AccessKeyID: ak, SecretAccessKey: sk, SFTPPassword: pw})
		},
		Apply: func(context.Context) error { applied.Add(1); return nil },
	}
}

// TestReplicaSetupSave: an admin sets the replica up on the settings
// page. A bad target, an unreachable bucket and a key not confirmed are
// German errors that save nothing; the key is shown once and written 0600;
// the valid form is saved whole, the S3 secret sealed (not in the
// database file), audited without it, and applied; agents get 403.
func TestReplicaSetupSave(t *testing.T) {
	ctx := context.Background()
	var applied atomic.Int32
	keyDir, target := t.TempDir(), t.TempDir()
	g := testenv.New(t, testenv.Options{Panel: panel.Config{MarkUntranslated: true, ReplicaSetup: replicaSetupFor(keyDir, panel.ReplicaFixed{}, &applied)}})
	admin := addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	b := newBrowser(t, g.Public.URL)
	b.login("admin@example.de")

	if p := b.get("/settings"); !strings.Contains(p.body, `data-testid="replica-form"`) || !strings.Contains(p.body, "Schlüssel erzeugen") || !strings.Contains(p.body, "--replica-lease") {
		t.Fatalf("settings page lacks the replica form: %d", p.status)
	}
	nothingSaved := func(step string) {
		t.Helper()
		set, err := g.Store.ReplicaSettings(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if set.Enabled || set.URL != "" || set.SecretKey != nil {
			t.Fatalf("%s: saved %+v", step, set)
		}
		if applied.Load() != 0 {
			t.Fatalf("%s: applied", step)
		}
	}
	form := func(kv ...string) url.Values {
		v := url.Values{"enabled": {"1"}, "retention_hours": {"48"}, "encryption": {"key"}, "action": {"save"}}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	// A wrong target: ParseURL's reason, in a German sentence.
	p := b.post("/settings/replica", form("url", "ftp://host/x"))
	if p.status != http.StatusUnprocessableEntity || !strings.Contains(p.body, "Das Ziel ist ungültig") || !strings.Contains(p.body, "want s3://") {
		t.Fatalf("bad URL: %d, no German error", p.status)
	}
	nothingSaved("bad URL")
	// S3 without keys, and an S3 endpoint nobody answers at.
	if p := b.post("/settings/replica", form("url", "s3://bucket/pforte?endpoint=http://127.0.0.1:1")); p.status != 422 || !strings.Contains(p.body, "Zugangsschlüssel-ID und den geheimen Schlüssel") {
		t.Fatalf("S3 without keys: %d", p.status)
	}
	p = b.post("/settings/replica", form("url", "s3://bucket/pforte?endpoint=http://127.0.0.1:1", "access_key_id", "AK", "secret_key", "SK", "action", "probe"))
	if p.status != 422 || !strings.Contains(p.body, "Das Ziel ist nicht erreichbar") {
		t.Fatalf("unreachable bucket: %d", p.status)
	}
	nothingSaved("unreachable")
	// Encrypted without a key.
	if p := b.post("/settings/replica", form("url", "file://"+target)); p.status != 422 || !strings.Contains(p.body, "Bitte erzeugen Sie zuerst einen Schlüssel") {
		t.Fatalf("no key: %d", p.status)
	}
	// Unencrypted needs the explicit acknowledgement.
	if p := b.post("/settings/replica", form("url", "file://"+target, "encryption", "none")); p.status != 422 || !strings.Contains(p.body, "Ohne Verschlüsselung kann der Speicheranbieter") {
		t.Fatalf("unencrypted without ack: %d", p.status)
	}
	nothingSaved("no key")

	// The key: written 0600 in the data directory, shown once.
	p = b.post("/settings/replica/key", url.Values{})
	if p.status != 200 || !strings.Contains(p.body, "AGE-SECRET-KEY-1") || !strings.Contains(p.body, `download="pforte-replica-key.txt"`) {
		t.Fatalf("key: %d, private key not shown", p.status)
	}
	keys, _ := filepath.Glob(filepath.Join(keyDir, "replica-key-*.txt"))
	if len(keys) != 1 {
		t.Fatalf("key files: %v", keys)
	}
	if fi, err := os.Stat(keys[0]); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode: %v %v", fi.Mode(), err)
	}
	if again := b.get("/settings"); strings.Contains(again.body, "AGE-SECRET-KEY-1") {
		t.Fatal("the private key is shown a second time")
	}
	// Not confirmed: refused, nothing saved.
	if p := b.post("/settings/replica", form("url", "file://"+target)); p.status != 422 || !strings.Contains(p.body, "Bitte bestätigen Sie, dass Sie den Schlüssel außerhalb dieses Servers gespeichert haben") {
		t.Fatalf("unconfirmed key: %d", p.status)
	}
	nothingSaved("unconfirmed key")

	// The probe alone saves nothing.
	p = b.post("/settings/replica", form("url", "file://"+target, "action", "probe"))
	if p.status != 200 || !strings.Contains(p.body, "Verbindung geprüft") {
		t.Fatalf("probe: %d", p.status)
	}
	nothingSaved("probe")
	if left, _ := filepath.Glob(filepath.Join(target, "probe", "*")); len(left) != 0 {
		t.Fatalf("the probe left %v", left)
	}

	const secret = "Sup3rSecretReplicaKey-9f1c"
	p = b.post("/settings/replica", form("url", "file://"+target, "key_confirmed", "1", "access_key_id", "AKIDTEST", "secret_key", secret))
	if p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	set, err := g.Store.ReplicaSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !set.Enabled || set.URL != "file://"+target || set.Retention != 48*time.Hour || set.Unencrypted || set.KeyFile != keys[0] || set.KeyPending != "" ||
		set.AccessKeyID != "AKIDTEST" || string(set.SecretKey) != secret {
		t.Fatalf("saved %+v", set)
	}
	if applied.Load() != 1 {
		t.Fatalf("applied %d times", applied.Load())
	}
	var raw []byte
	for _, f := range []string{store.DBFile, store.DBFile + "-wal"} {
		b, _ := os.ReadFile(filepath.Join(g.Dir, f))
		raw = append(raw, b...)
	}
	if len(raw) == 0 || bytes.Contains(raw, []byte(secret)) {
		t.Fatal("the S3 secret is in the database file in plain text")
	}
	log, err := g.Store.AuditLog(ctx, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	var audited, keyAudited bool
	for _, e := range log {
		if strings.Contains(e.Detail, secret) || strings.Contains(e.Detail, "AGE-SECRET") {
			t.Fatalf("a secret in the audit: %s", e.Detail)
		}
		audited = audited || e.Action == store.AuditReplicaSettings && strings.Contains(e.Detail, `"enabled":true`)
		keyAudited = keyAudited || e.Action == store.AuditReplicaKeyCreate
	}
	if !audited || !keyAudited {
		t.Fatalf("audit: settings %v, key %v", audited, keyAudited)
	}
	// The secret is not typed again: kept.
	if p := b.post("/settings/replica", form("url", "file://"+target, "access_key_id", "AKIDTEST", "retention_hours", "24")); p.status != http.StatusSeeOther {
		t.Fatalf("second save: %d", p.status)
	}
	if set, _ := g.Store.ReplicaSettings(ctx); string(set.SecretKey) != secret || set.Retention != 24*time.Hour || set.KeyFile != keys[0] {
		t.Fatalf("second save changed %+v", set)
	}
	if page := b.get("/settings"); strings.Contains(page.body, secret) || !strings.Contains(page.body, "Leer lassen, um ihn zu behalten") {
		t.Fatal("the settings page shows the secret, or does not say it is kept")
	}

	// English, every message and label translated.
	if err := g.Store.SetPreferences(ctx, admin.ID, "en", false); err != nil {
		t.Fatal(err)
	}
	for _, p := range []page{b.get("/settings"), b.post("/settings/replica", form("url", "ftp://x")),
		b.post("/settings/replica", form("url", "file://"+target, "retention_hours", "0")),
		b.post("/settings/replica", form("url", "file://"+target, "action", "probe")), b.post("/settings/replica/key", url.Values{})} {
		if strings.Contains(p.body, "⟦") || !strings.Contains(p.body, "Check connection") {
			i := strings.Index(p.body, "⟦")
			t.Fatalf("English replica form untranslated near %q", p.body[max(0, i-80):min(len(p.body), i+200)])
		}
	}
	for _, want := range []string{"The target is not valid", "between 1 and 8760 hours", "Connection checked", "it is shown only now"} {
		found := false
		for _, p := range []page{b.post("/settings/replica", form("url", "ftp://x")), b.post("/settings/replica", form("url", "file://"+target, "retention_hours", "0")),
			b.post("/settings/replica", form("url", "file://"+target, "action", "probe")), b.post("/settings/replica/key", url.Values{})} {
			found = found || strings.Contains(p.body, want)
		}
		if !found {
			t.Errorf("English page lacks %q", want)
		}
	}

	// Two more keys were made above: the one in use stays, the first
	// unconfirmed one was replaced by the second.
	if now, _ := filepath.Glob(filepath.Join(keyDir, "replica-key-*.txt")); len(now) != 2 || !slices.Contains(now, keys[0]) {
		t.Fatalf("key files after replacing an unconfirmed key: %v", now)
	}

	agent := newBrowser(t, g.Public.URL)
	agent.login("agent@example.de")
	if p := agent.post("/settings/replica", form("enabled", "0")); p.status != http.StatusForbidden {
		t.Fatalf("agent save: %d", p.status)
	}
	if p := agent.post("/settings/replica/key", url.Values{}); p.status != http.StatusForbidden {
		t.Fatalf("agent key: %d", p.status)
	}
}

// TestReplicaSetupFixed: what the start parameters give is shown
// read-only and is not overridden by the form.
func TestReplicaSetupFixed(t *testing.T) {
	ctx := context.Background()
	var applied atomic.Int32
	target := t.TempDir()
	fixed := panel.ReplicaFixed{URL: "file://" + target, Encryption: true, Encrypted: false, Retention: 12 * time.Hour, S3Keys: true}
	g := testenv.New(t, testenv.Options{Panel: panel.Config{ReplicaSetup: replicaSetupFor(t.TempDir(), fixed, &applied)}})
	addUser(t, g.Store, "admin@example.de", store.RoleAdmin)
	b := newBrowser(t, g.Public.URL)
	b.login("admin@example.de")
	p := b.get("/settings")
	if !strings.Contains(p.body, `data-testid="replica-fixed"`) || !strings.Contains(p.body, "durch die Startparameter festgelegt") || strings.Contains(p.body, "replica-keygen-button") {
		t.Fatal("fixed values not shown read-only (or the key can still be generated)")
	}
	if p := b.post("/settings/replica/key", url.Values{}); p.status != http.StatusConflict {
		t.Fatalf("key with fixed encryption: %d", p.status)
	}
	p = b.post("/settings/replica", url.Values{"enabled": {"0"}, "url": {"file:///elsewhere"}, "retention_hours": {"500"}, "encryption": {"key"},
		"access_key_id": {"OTHER"}, "secret_key": {"other-secret"}, "action": {"save"}})
	if p.status != http.StatusSeeOther {
		t.Fatalf("save: %d %s", p.status, p.body)
	}
	set, err := g.Store.ReplicaSettings(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if set.URL != "" || set.Retention != 0 || set.AccessKeyID != "" || set.SecretKey != nil || set.KeyFile != "" {
		t.Fatalf("fixed values overridden in the store: %+v", set)
	}
	if !strings.Contains(b.get("/settings").body, "file://"+target) {
		t.Fatal("the fixed target is not shown")
	}
}
