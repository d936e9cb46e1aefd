package cli

import (
	"bytes"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/testenv"
)

// fakeGraph answers the token check like the Graph API: 200 with the
// system user for the good token, Meta's error 190 body otherwise. Its
// clock is skewed by skew.
func fakeGraph(t *testing.T, skew time.Duration) string {
	t.Helper()
	_, errs := testenv.Examples(t, "errors")
	expired := errs["error_190_token_expired"]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Date", time.Now().Add(skew).UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path != "/v24.0/me" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		if r.Header.Get("Authorization") != "Bearer good-token" {
			w.WriteHeader(http.StatusUnauthorized)
			w.Write(expired)
			return
		}
		fmt.Fprint(w, `{"id":"1234567890","name":"Pforte System User"}`)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func runDoctor(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out bytes.Buffer
	code := run(t.Context(), append([]string{"doctor", "--timeout", "3s"}, args...), nil, &out, &out)
	return code, out.String()
}

func wantLines(t *testing.T, out string, lines ...string) {
	t.Helper()
	for _, l := range lines {
		if !strings.Contains(out, l) {
			t.Errorf("doctor output lacks %q", l)
		}
	}
	if t.Failed() {
		t.Logf("doctor said:\n%s", out)
	}
}

func TestDoctorHealthyInstallation(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewCA(t, "Pforte Doctor Test CA")
	c, k := ca.Issue(t, testenv.Leaf{CN: "localhost", DNSNames: []string{"localhost"}, NotAfter: time.Now().Add(60 * 24 * time.Hour)})
	certFile, keyFile := testenv.WritePair(t, dir, c, k)
	rootFile := filepath.Join(dir, "root.pem")
	os.WriteFile(rootFile, ca.PEM, 0o600)
	graph := fakeGraph(t, 0)
	httpPort, httpsPort, internalPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	args := []string{"--data-dir", filepath.Join(dir, "data"), "--domain", "localhost", "--tls-cert", certFile, "--tls-key", keyFile,
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--https-addr", fmt.Sprintf("127.0.0.1:%d", httpsPort),
		"--internal-addr", fmt.Sprintf("127.0.0.1:%d", internalPort),
		"--graph-url", graph, "--access-token", "good-token", "--app-secret", "s", "--verify-token", "v"}
	srv := startServe(t, args...)
	waitUntil(t, 30*time.Second, "serve", srv, func() bool {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", internalPort))
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	code, out := runDoctor(t, append(args, "--trust-root", rootFile)...)
	if code != 0 {
		t.Fatalf("doctor exited %d on a healthy installation:\n%s", code, out)
	}
	wantLines(t, out,
		"ok    Meta app secret is set",
		"ok    data directory "+filepath.Join(dir, "data")+" is private (mode 0700)",
		"ok    database opens and passes the integrity check",
		"ok    DNS: localhost points here (127.0.0.1",
		fmt.Sprintf("ok    --http-addr 127.0.0.1:%d is reachable locally", httpPort),
		fmt.Sprintf("ok    --https-addr 127.0.0.1:%d is reachable locally", httpsPort),
		`ok    certificate for localhost served: issued by "Pforte Doctor Test CA"`,
		"ok    Meta access token is valid (Pforte System User)",
		"ok    the clock agrees with 127.0.0.1",
		"0 problem(s), 0 warning(s).")

	// Without the extra root the test CA is not trusted, which is what
	// happens with a staging CA: Meta would refuse it.
	code, out = runDoctor(t, args...)
	if code == 0 {
		t.Fatalf("doctor accepted a certificate from an unknown CA:\n%s", out)
	}
	wantLines(t, out, "FAIL  certificate for localhost served", "not trusted", "fix: Meta accepts only certificates from a public CA")
}

func TestDoctorReportsProblems(t *testing.T) {
	dir := t.TempDir()
	data := filepath.Join(dir, "data")
	createAPIKey(t, data) // creates the database
	os.Chmod(data, 0o755)
	graph := fakeGraph(t, 10*time.Minute)
	args := []string{"--data-dir", data, "--domain", "chat.pforte.invalid", "--acme-ca", "https://127.0.0.1:1/dir",
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)), "--https-addr", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		"--internal-addr", fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t)),
		"--graph-url", graph, "--access-token", "stale-token"}
	code, out := runDoctor(t, args...)
	if code != 1 {
		t.Fatalf("doctor exited %d; want 1:\n%s", code, out)
	}
	wantLines(t, out,
		"FAIL  no Meta app secret",
		"FAIL  no webhook verify token",
		"WARN  data directory "+data+" is readable by others (mode 0755)",
		"fix: chmod 700 "+data,
		"FAIL  DNS: chat.pforte.invalid does not resolve",
		"FAIL  internal listener",
		"is pforte running?",
		"--https-addr",
		"FAIL  certificate: none stored for chat.pforte.invalid",
		"FAIL  Meta access token is invalid or expired: Error validating access token",
		"fix: create a new permanent token",
		"FAIL  the clock is off by ", // 10 minutes, give or take the Date header's second
		"timedatectl set-ntp true")

	// Settings that serve would refuse are reported, not crashed on.
	code, out = runDoctor(t, "--data-dir", data, "--tls-cert", "only-cert.pem")
	if code != 1 || !strings.Contains(out, "FAIL  settings: invalid --tls-key") {
		t.Fatalf("bad settings: exit %d\n%s", code, out)
	}
}

func TestHealthcheck(t *testing.T) {
	internal := testenv.FreePort(t)
	srv := startServe(t, "--data-dir", t.TempDir(), "--http-addr", "127.0.0.1:0", "--internal-addr", fmt.Sprintf("127.0.0.1:%d", internal))
	check := func(env string) (int, string) {
		t.Setenv("PFORTE_INTERNAL_ADDR", env)
		var out bytes.Buffer
		code := run(t.Context(), []string{"healthcheck"}, nil, &out, &out)
		return code, out.String()
	}
	// The image sets PFORTE_INTERNAL_ADDR=:8081; the check dials loopback.
	waitUntil(t, 30*time.Second, "a healthy gateway", srv, func() bool {
		code, out := check(fmt.Sprintf(":%d", internal))
		return code == 0 && strings.TrimSpace(out) == "ok"
	})
	srv.stop(t)
	if code, out := check(fmt.Sprintf(":%d", internal)); code == 0 || !strings.Contains(out, "unhealthy") {
		t.Fatalf("stopped gateway: exit %d %q", code, out)
	}
}
