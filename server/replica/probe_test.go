package replica

import (
	"context"
	"errors"
	"testing"
)

// TestProbeWithExplicitCredentials: the settings page's probe writes,
// reads and deletes one object with the keys it is given, not the
// environment's; wrong keys, a missing bucket and an endpoint nobody
// answers at are told apart.
func TestProbeWithExplicitCredentials(t *testing.T) {
	f := startFakeS3(t)
	ctx := context.Background()
	// The environment holds other keys: the probe must not use them.
	t.Setenv("AWS_ACCESS_KEY_ID", "AKENVIRONMENT")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "environment-secret")
	url := "s3://" + testBucket + "/pforte?endpoint=" + f.srv.URL + "&region=fsn1"
	if err := Probe(ctx, Config{URL: url}, Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); err != nil {
		t.Fatalf("right keys: %v", err)
	}
	if k := f.keys(t); len(k) != 0 {
		t.Fatalf("the probe left %v", k)
	}
	if f.requests.Load() < 3 {
		t.Fatalf("only %d requests: not written, read and deleted", f.requests.Load())
	}
	kind := func(err error) string {
		var pk interface{ ProbeKind() string }
		if !errors.As(err, &pk) {
			t.Fatalf("no probe kind in %v", err)
		}
		return pk.ProbeKind()
	}
	// Without explicit keys the environment's are used, and they are wrong here.
	if err := Probe(ctx, Config{URL: url}, Credentials{}); kind(err) != ProbeDenied {
		t.Fatalf("environment's wrong keys: %v", err)
	}
	if err := Probe(ctx, Config{URL: url}, Credentials{AccessKeyID: testKeyID, SecretAccessKey: "wrong"}); kind(err) != ProbeDenied {
		t.Fatalf("wrong secret: %v", err)
	}
	if err := Probe(ctx, Config{URL: url}, Credentials{AccessKeyID: testKeyID}); kind(err) != ProbeNoCredentials {
		t.Fatalf("secret missing: %v", err)
	}
	noBucket := "s3://no-such-bucket/pforte?endpoint=" + f.srv.URL + "&region=fsn1"
	if err := Probe(ctx, Config{URL: noBucket}, Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); kind(err) != ProbeNoBucket {
		t.Fatalf("missing bucket: %v", err)
	}
	down := "s3://" + testBucket + "/pforte?endpoint=http://127.0.0.1:1&region=fsn1"
	if err := Probe(ctx, Config{URL: down}, Credentials{AccessKeyID: testKeyID, SecretAccessKey: testSecret}); kind(err) != ProbeUnreachable {
		t.Fatalf("unreachable: %v", err)
	}
	var se *SettingError
	if err := Probe(ctx, Config{URL: "ftp://x/y"}, Credentials{}); !errors.As(err, &se) {
		t.Fatalf("bad URL: %v", err)
	}
	// A directory target.
	dir := t.TempDir()
	if err := Probe(ctx, Config{URL: "file://" + dir}, Credentials{}); err != nil {
		t.Fatalf("file target: %v", err)
	}
}
