package cli

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/replica"
	"github.com/pforte/pforte/store"
)

// TestReplicaEffectiveStartParametersWin: the replicator's settings are
// the panel's with the start parameters over them, field by field; the
// panel's keys reach the child's environment only, never its arguments,
// and not when the environment has its own.
func TestReplicaEffectiveStartParametersWin(t *testing.T) {
	key := filepath.Join(t.TempDir(), "k.txt")
	if _, err := replica.WriteNewIdentity(key); err != nil {
		t.Fatal(err)
	}
	target := "file://" + t.TempDir()
	env := func(m map[string]string) envLookup {
		return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
	}
	sup := func(f replicaConfig, e map[string]string) *replicaSupervisor {
		f.MaxLag, f.Retention = 5*time.Minute, replica.DefaultRetention
		return &replicaSupervisor{flags: &f, env: env(e)}
	}
	panelSet := &store.ReplicaSettings{Enabled: true, URL: target, AccessKeyID: "AKPANEL", SecretKey: []byte("panel-secret"),
		SFTPPassword: []byte("sftp-pw"), Retention: 5 * time.Hour, KeyFile: key}

	// Off in the panel, no flags: off.
	if c, _, err := sup(replicaConfig{}, nil).effective(&store.ReplicaSettings{URL: target}); c != nil || err != nil {
		t.Fatalf("off: %+v %v", c, err)
	}
	// The panel's settings; secrets in the environment only.
	c, extra, err := sup(replicaConfig{}, nil).effective(panelSet)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != target || c.KeyFile != key || c.Retention != 5*time.Hour || c.Lease || !c.clearStopMark {
		t.Fatalf("panel: %+v", c)
	}
	if !slices.Equal(extra, []string{"AWS_ACCESS_KEY_ID=AKPANEL", "AWS_SECRET_ACCESS_KEY=panel-secret", replica.SFTPPasswordEnv + "=sftp-pw"}) {
		t.Fatalf("child environment: %q", extra)
	}
	if args := strings.Join(c.args("/data"), " "); strings.Contains(args, "secret") || strings.Contains(args, "sftp-pw") || !strings.Contains(args, "--clear-stop-mark") {
		t.Fatalf("arguments: %s", args)
	}
	// Keys in serve's environment win: the panel's are not handed on.
	_, extra, _ = sup(replicaConfig{}, map[string]string{"AWS_ACCESS_KEY_ID": "AKENV", replica.SFTPPasswordEnv: "x"}).effective(panelSet)
	if len(extra) != 0 {
		t.Fatalf("the panel's keys override the environment's: %q", extra)
	}
	// Encrypted without a confirmed key: refused.
	if _, _, err := sup(replicaConfig{}, nil).effective(&store.ReplicaSettings{Enabled: true, URL: target}); err == nil {
		t.Fatal("encrypted replication without a key started")
	}
	// --replica-url, --replica-unencrypted and --replica-retention win.
	flagTarget := "file://" + t.TempDir()
	s := sup(replicaConfig{URL: flagTarget, Unencrypted: true, given: map[string]bool{"replica-url": true, "replica-unencrypted": true, "replica-retention": true}}, nil)
	s.flags.Retention = 10 * time.Hour
	c, _, err = s.effective(panelSet)
	if err != nil {
		t.Fatal(err)
	}
	if c.URL != flagTarget || c.KeyFile != "" || !c.Unencrypted || c.Retention != 10*time.Hour {
		t.Fatalf("flags did not win: %+v", c)
	}
	fx := s.panelFixed()
	if fx.URL != flagTarget || !fx.Encryption || fx.Encrypted || fx.Retention != 10*time.Hour || fx.S3Keys {
		t.Fatalf("fixed for the panel: %+v", fx)
	}
}
