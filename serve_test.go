package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/meta"
	"github.com/pforte/pforte/server/servertest"
)

const testTags = "sqlite_omit_load_extension sqlite_fts5 osusergo netgo"

// syncBuffer collects a running command's output.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// serveRun is "pforte serve" running in this process.
type serveRun struct {
	cancel context.CancelFunc
	done   chan int
	out    *syncBuffer
}

func startServe(t *testing.T, args ...string) *serveRun {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &serveRun{cancel: cancel, done: make(chan int, 1), out: &syncBuffer{}}
	go func() { r.done <- run(ctx, append([]string{"serve"}, args...), strings.NewReader(""), r.out, r.out) }()
	t.Cleanup(func() {
		if r.cancel != nil {
			r.stop(t)
		}
		if t.Failed() {
			t.Logf("serve output:\n%s", r.out)
		}
	})
	return r
}

// stop is SIGTERM: it returns serve's exit code.
func (r *serveRun) stop(t *testing.T) int {
	t.Helper()
	r.cancel()
	r.cancel = nil
	select {
	case code := <-r.done:
		return code
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop within 60s")
		return -1
	}
}

func waitUntil(t *testing.T, limit time.Duration, what string, r *serveRun, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		select {
		case code := <-r.done:
			t.Fatalf("serve exited with %d while waiting for %s:\n%s", code, what, r.out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// httpsClient reaches addr for any name and trusts only roots.
func httpsClient(addr string, roots *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: 10 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig: &tls.Config{RootCAs: roots},
			DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
				var d net.Dialer
				return d.DialContext(ctx, network, addr)
			},
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

func servedCert(addr, name string, roots *x509.CertPool) (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", addr, &tls.Config{ServerName: name, RootCAs: roots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func createAPIKey(t *testing.T, dir string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := run(t.Context(), []string{"apikey", "create", "--data-dir", dir, "--name", "test", "--scopes", "read"}, nil, &out, &errb); code != 0 {
		t.Fatalf("apikey create: %d %s", code, errb.String())
	}
	return strings.TrimSpace(out.String())
}

func TestServeObtainsCertificateFromACME(t *testing.T) {
	const domain = "chat.pforte.test"
	httpPort, httpsPort, internalPort := servertest.FreePort(t), servertest.FreePort(t), servertest.FreePort(t)
	pebble := servertest.StartPebble(t, servertest.PebbleOptions{HTTPPort: httpPort, TLSPort: httpsPort})
	dir := t.TempDir()
	key := createAPIKey(t, dir)
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	internal := fmt.Sprintf("http://127.0.0.1:%d", internalPort)
	args := []string{"--data-dir", dir, "--domain", domain,
		"--http-addr", fmt.Sprintf("127.0.0.1:%d", httpPort), "--https-addr", httpsAddr,
		"--internal-addr", fmt.Sprintf("127.0.0.1:%d", internalPort),
		"--acme-ca", pebble.DirectoryURL, "--acme-ca-root", pebble.ServerRootFile, "--acme-email", "admin@pforte.test",
		"--app-secret", "s3cret", "--verify-token", "tok", "--log-level", "debug"}

	srv := startServe(t, args...)
	var first *x509.Certificate
	waitUntil(t, 90*time.Second, "a certificate from Pebble", srv, func() bool {
		c, err := servedCert(httpsAddr, domain, pebble.IssuerRoots)
		first = c
		return err == nil
	})
	if got := pebble.Requests(); got["/order-plz"] == 0 {
		t.Fatalf("no order reached Pebble: %v", got)
	}

	// A signed webhook over HTTPS, verified against Pebble's root, is
	// stored; the answer carries HSTS.
	_, bodies := servertest.Examples(t, "webhooks")
	body := bodies["text"]
	client := httpsClient(httpsAddr, pebble.IssuerRoots)
	req, _ := http.NewRequest("POST", "https://"+domain+"/webhook", bytes.NewReader(body))
	req.Header.Set(meta.SignatureHeader, meta.Sign([]byte("s3cret"), body))
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(resp.Header.Get("Strict-Transport-Security"), "max-age=31536000") {
		t.Fatalf("webhook over HTTPS: %d, HSTS %q", resp.StatusCode, resp.Header.Get("Strict-Transport-Security"))
	}
	wamid := wamidOf(t, body)
	if code, b := apiGet(t, internal+"/api/v1/messages/"+wamid, key); code != http.StatusOK {
		t.Fatalf("message not stored: %d %s", code, b)
	}

	// Plain HTTP redirects to HTTPS.
	plain := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	req, _ = http.NewRequest("GET", fmt.Sprintf("http://127.0.0.1:%d/webhook?hub.mode=subscribe", httpPort), nil)
	req.Host = domain
	resp, err = plain.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if want := fmt.Sprintf("https://%s:%d/webhook?hub.mode=subscribe", domain, httpsPort); resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != want {
		t.Fatalf("redirect: %d %q, want %q", resp.StatusCode, resp.Header.Get("Location"), want)
	}

	// The certificate state is in the metrics.
	_, metrics := apiGet(t, internal+"/metrics", "")
	if !strings.Contains(string(metrics), `pforte_tls_certificate_not_after_seconds{issuer="`+first.Issuer.CommonName+`",name="`+domain+`",source="acme"} `) {
		t.Fatalf("metrics lack the certificate:\n%s", grepLines(string(metrics), "pforte_tls"))
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}

	// A restart serves the stored certificate and orders nothing.
	pebble.Reset()
	srv = startServe(t, args...)
	var again *x509.Certificate
	waitUntil(t, 30*time.Second, "the restarted gateway", srv, func() bool {
		c, err := servedCert(httpsAddr, domain, pebble.IssuerRoots)
		again = c
		return err == nil
	})
	if !again.Equal(first) {
		t.Fatalf("restart served a different certificate (serial %s, was %s)", again.SerialNumber, first.SerialNumber)
	}
	// Give maintenance a moment to do whatever it would do at start.
	time.Sleep(2 * time.Second)
	got := pebble.Requests()
	for _, path := range []string{"/order-plz", "/sign-me-up", "/nonce-plz"} {
		if got[path] != 0 {
			t.Errorf("restart contacted the CA: %s %d times (all: %v)", path, got[path], got)
		}
	}
	t.Logf("CA requests after restart: %v", got)
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}

func wamidOf(t *testing.T, body []byte) string {
	t.Helper()
	i := bytes.Index(body, []byte(`"wamid.`))
	if i < 0 {
		t.Fatal("no wamid in example")
	}
	j := bytes.IndexByte(body[i+1:], '"')
	return string(body[i+1 : i+1+j])
}

func apiGet(t *testing.T, url, key string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest("GET", url, nil)
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
