package cli

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

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
	httpPort, httpsPort, internalPort := testenv.FreePort(t), testenv.FreePort(t), testenv.FreePort(t)
	pebble := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpPort, TLSPort: httpsPort})
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
	_, bodies := testenv.Examples(t, "webhooks")
	body := bodies["text"]
	client := httpsClient(httpsAddr, pebble.IssuerRoots)
	req, _ := http.NewRequest("POST", "https://"+domain+"/webhook", bytes.NewReader(body))
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte("s3cret"), body))
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

func TestServeRefusesBadTLSSettings(t *testing.T) {
	dir := t.TempDir()
	missing := dir + "/missing.pem"
	cases := []struct {
		args []string
		want string
	}{
		{[]string{"--tls-cert", "c.pem"}, "--tls-key"},
		{[]string{"--tls-key", "k.pem"}, "--tls-cert"},
		{[]string{"--domain", "https://chat.example.de"}, "bare host name"},
		{[]string{"--domain", "chat.example.de:443"}, "bare host name"},
		{[]string{"--domain", "*.example.de"}, "wildcard"},
		{[]string{"--domain", "203.0.113.7"}, "not a name"},
		{[]string{"--domain", "chat..example.de"}, "not a valid host name"},
		{[]string{"--domain", "chat.example.de", "--acme-ca", "http://ca.example/dir"}, "--acme-ca"},
		{[]string{"--domain", "chat.example.de", "--http-addr", "127.0.0.1:8443", "--https-addr", "127.0.0.1:8443"}, "--https-addr"},
		{[]string{"--webhook-mtls"}, "--webhook-mtls"},
		{[]string{"--domain", "chat.example.de", "--webhook-mtls"}, "--webhook-mtls-ca"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.local"}, "--trusted-proxies"},
		{[]string{"--domain", "chat.example.de", "--acme-ca-root", missing}, "--acme-ca-root"},
		{[]string{"--tls-cert", missing, "--tls-key", missing}, "--tls-cert"},
	}
	for _, c := range cases {
		data := t.TempDir() + "/data"
		var out bytes.Buffer
		// Settings that were wrongly accepted would serve: end that soon.
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		code := run(ctx, append([]string{"serve", "--data-dir", data, "--internal-addr", "127.0.0.1:0", "--https-addr", "127.0.0.1:0"}, c.args...), nil, &out, &out)
		cancel()
		if code == 0 || !strings.Contains(out.String(), c.want) {
			t.Errorf("%v: exit %d, output %q; want an error naming %s", c.args, code, out.String(), c.want)
		}
		if _, err := os.Stat(data + "/" + store.DBFile); err == nil {
			t.Errorf("%v: the database was created although the settings were refused", c.args)
		}
	}
}

// Under systemd: READY=1 once listening, WATCHDOG=1 while the writer
// works, STOPPING=1 at SIGTERM; a request in flight at SIGTERM still
// completes and is durable, while new connections are refused.
func TestServeSystemdNotifyAndGracefulStop(t *testing.T) {
	dir := t.TempDir()
	sock := filepath.Join(dir, "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	notes := make(chan string, 100)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				return
			}
			notes <- string(buf[:n])
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sock)
	t.Setenv("WATCHDOG_USEC", "200000")
	expect := func(prefix string) {
		t.Helper()
		timeout := time.After(20 * time.Second)
		for {
			select {
			case n := <-notes:
				if strings.HasPrefix(n, prefix) {
					return
				}
			case <-timeout:
				t.Fatalf("systemd never got %q", prefix)
			}
		}
	}

	port := testenv.FreePort(t)
	public := fmt.Sprintf("127.0.0.1:%d", port)
	srv := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--http-addr", public, "--internal-addr", "127.0.0.1:0",
		"--app-secret", "s3cret", "--shutdown-timeout", "20s")
	expect("READY=1")
	expect("WATCHDOG=1")

	// A delivery whose body is only half sent when the stop comes.
	_, bodies := testenv.Examples(t, "webhooks")
	body := bodies["image"]
	c, err := net.Dial("tcp", public)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fmt.Fprintf(c, "POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n%s: %s\r\nContent-Length: %d\r\n\r\n",
		cloudapi.SignatureHeader, cloudapi.Sign([]byte("s3cret"), body), len(body))
	c.Write(body[:len(body)/2])
	time.Sleep(100 * time.Millisecond) // let the server start reading the request

	stopped := make(chan int, 1)
	go func() { stopped <- srv.stop(t) }()
	expect("STOPPING=1")
	waitUntil(t, 10*time.Second, "the listener to close", &serveRun{done: make(chan int)}, func() bool {
		nc, err := net.DialTimeout("tcp", public, time.Second)
		if err == nil {
			nc.Close()
		}
		return err != nil
	})

	c.Write(body[len(body)/2:])
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("the request in flight got no answer: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("request in flight: %d", resp.StatusCode)
	}
	if code := <-stopped; code != 0 {
		t.Fatalf("serve exited %d", code)
	}
	if !strings.Contains(srv.out.String(), "stopped cleanly") {
		t.Fatalf("no clean stop in the log:\n%s", srv.out)
	}
	st, err := store.Open(t.Context(), filepath.Join(dir, "data"), store.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.MessageByWAMID(t.Context(), wamidOf(t, body)); err != nil {
		t.Fatalf("the acknowledged delivery is not in the database: %v", err)
	}
}

func FuzzParseDomains(f *testing.F) {
	for _, s := range []string{"chat.example.de", "a.de, B.DE.,a.de", "*.x.de", "https://x.de", "1.2.3.4", "", "xn--bcher-kva.de", "a..b", "-a.de"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ds, err := parseDomains(s)
		if err != nil {
			return
		}
		seen := map[string]bool{}
		for _, d := range ds {
			if d == "" || d != strings.ToLower(d) || !validHostname(d) || net.ParseIP(d) != nil || seen[d] || strings.ContainsAny(d, "*:/ ,") {
				t.Fatalf("%q gave unusable name %q (all: %q)", s, d, ds)
			}
			seen[d] = true
		}
	})
}

// With --tls-cert, SIGHUP (systemctl reload) switches to the new files at
// once; the polling interval is set to an hour so only the signal can.
func TestServeReloadsCertificateOnSIGHUP(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewCA(t, "Pforte Reload CA")
	leaf := testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}}
	c, k := ca.Issue(t, leaf)
	certFile, keyFile := testenv.WritePair(t, dir, c, k)
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	srv := startServe(t, "--data-dir", filepath.Join(dir, "data"), "--tls-cert", certFile, "--tls-key", keyFile,
		"--http-addr", "127.0.0.1:0", "--https-addr", httpsAddr, "--internal-addr", "127.0.0.1:0", "--tls-reload-interval", "1h")
	var first *x509.Certificate
	waitUntil(t, 30*time.Second, "the TLS listener", srv, func() bool {
		var err error
		first, err = servedCert(httpsAddr, "chat.pforte.test", ca.Pool)
		return err == nil
	})
	c2, k2 := ca.Issue(t, leaf)
	testenv.WritePair(t, dir, c2, k2)
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, 10*time.Second, "the new certificate after SIGHUP", srv, func() bool {
		cur, err := servedCert(httpsAddr, "chat.pforte.test", ca.Pool)
		return err == nil && cur.SerialNumber.Cmp(first.SerialNumber) != 0
	})
	if !strings.Contains(srv.out.String(), "SIGHUP: certificate reloaded") {
		t.Fatalf("no reload in the log:\n%s", srv.out)
	}
	if code := srv.stop(t); code != 0 {
		t.Fatalf("serve exited %d", code)
	}
}
