package tlsmgr_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/server/tlsmgr"
)

// tlsGateway is a gateway whose public listener speaks TLS with a
// certificate from files, as "serve --tls-cert" runs it.
type tlsGateway struct {
	*testenv.Gateway
	mgr      *tlsmgr.Manager
	addr     string
	ca       *testenv.CA
	certFile string
	keyFile  string
	metrics  *prometheus.Registry
}

func startTLSGateway(t testing.TB, o testenv.Leaf, mutate func(*tlsmgr.Options)) *tlsGateway {
	t.Helper()
	g := testenv.New(t, testenv.Options{})
	ca := testenv.NewCA(t, "Pforte Test CA")
	c, k := ca.Issue(t, o)
	certFile, keyFile := testenv.WritePair(t, t.TempDir(), c, k)
	metrics := prometheus.NewRegistry()
	opts := tlsmgr.Options{CertFile: certFile, KeyFile: keyFile, Domains: []string{"chat.pforte.test"}, HTTPSPort: 8443, Registerer: metrics, ReloadInterval: 20 * time.Millisecond}
	if mutate != nil {
		mutate(&opts)
	}
	mgr, err := tlsmgr.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := mgr.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Stop)
	h := tlsmgr.HSTS(g.Gateway.PublicHandler(g.Panel.Handler()))
	if opts.ClientCAs != nil {
		h = tlsmgr.WebhookMTLS(tlsmgr.MetaWebhookClientCN, h)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: h, TLSConfig: mgr.TLSConfig(), ErrorLog: discardLog()}
	go hs.Serve(tls.NewListener(ln, hs.TLSConfig))
	t.Cleanup(func() { hs.Close() })
	return &tlsGateway{Gateway: g, mgr: mgr, addr: ln.Addr().String(), ca: ca, certFile: certFile, keyFile: keyFile, metrics: metrics}
}

// handshake connects with cfg (ServerName and RootCAs filled in if unset).
func (g *tlsGateway) handshake(cfg *tls.Config) (*tls.ConnectionState, error) {
	if cfg.ServerName == "" {
		cfg.ServerName = "chat.pforte.test"
	}
	if cfg.RootCAs == nil {
		cfg.RootCAs = g.ca.Pool
	}
	d := &net.Dialer{Timeout: 5 * time.Second}
	conn, err := tls.DialWithDialer(d, "tcp", g.addr, cfg)
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	st := conn.ConnectionState()
	return &st, nil
}

// client is an HTTPS client that reaches the gateway as chat.pforte.test.
func (g *tlsGateway) client(cfg *tls.Config) *http.Client {
	if cfg == nil {
		cfg = &tls.Config{}
	}
	cfg.ServerName = "chat.pforte.test"
	cfg.RootCAs = g.ca.Pool
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig: cfg,
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, g.addr)
		},
	}}
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }

func TestTLSPolicyRefusesOldProtocolsAndWeakSuites(t *testing.T) {
	// RSA-kex suites and TLS 1.0 are off in Go's client defaults; turn
	// them on so the client offers them and only the server can refuse.
	t.Setenv("GODEBUG", "tlsrsakex=1,tls10server=1,tls3des=1")
	g := startTLSGateway(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}, RSA: true}, nil)

	// A server that accepts everything, with the same certificate: the
	// control that shows each refused client is refused by the policy,
	// not by its own configuration.
	lax := g.ca.TLSCert(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}, RSA: true})
	laxLn, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		Certificates: []tls.Certificate{lax}, MinVersion: tls.VersionTLS10,
		CipherSuites: append(tlsSuiteIDs(tls.CipherSuites()), tlsSuiteIDs(tls.InsecureCipherSuites())...),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer laxLn.Close()
	go func() {
		for {
			c, err := laxLn.Accept()
			if err != nil {
				return
			}
			go func() { c.(*tls.Conn).Handshake(); c.Close() }()
		}
	}()
	laxAddr := laxLn.Addr().String()

	refused := []struct {
		name string
		cfg  *tls.Config
	}{
		{"TLS 1.0", &tls.Config{MinVersion: tls.VersionTLS10, MaxVersion: tls.VersionTLS10}},
		{"TLS 1.1", &tls.Config{MinVersion: tls.VersionTLS11, MaxVersion: tls.VersionTLS11}},
		{"TLS 1.2 CBC (non-AEAD)", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA, tls.TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256}}},
		{"TLS 1.2 static RSA key exchange", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{
			tls.TLS_RSA_WITH_AES_128_GCM_SHA256, tls.TLS_RSA_WITH_AES_256_GCM_SHA384}}},
		{"TLS 1.2 3DES", &tls.Config{MaxVersion: tls.VersionTLS12, CipherSuites: []uint16{tls.TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA}}},
	}
	for _, c := range refused {
		t.Run(c.name, func(t *testing.T) {
			control := c.cfg.Clone()
			control.ServerName, control.RootCAs = "chat.pforte.test", g.ca.Pool
			conn, err := tls.Dial("tcp", laxAddr, control)
			if err != nil {
				t.Fatalf("control: a permissive server must accept this client: %v", err)
			}
			conn.Close()
			if st, err := g.handshake(c.cfg.Clone()); err == nil {
				t.Fatalf("handshake succeeded with version %x suite %s; want refused", st.Version, tls.CipherSuiteName(st.CipherSuite))
			}
		})
	}

	accepted := []struct {
		name    string
		cfg     *tls.Config
		version uint16
	}{
		{"TLS 1.3", &tls.Config{MinVersion: tls.VersionTLS13}, tls.VersionTLS13},
		{"TLS 1.2 ECDHE AES-GCM", &tls.Config{MaxVersion: tls.VersionTLS12}, tls.VersionTLS12},
	}
	for _, c := range accepted {
		t.Run(c.name, func(t *testing.T) {
			st, err := g.handshake(c.cfg.Clone())
			if err != nil {
				t.Fatal(err)
			}
			if st.Version != c.version {
				t.Fatalf("version %x, want %x", st.Version, c.version)
			}
			name := tls.CipherSuiteName(st.CipherSuite)
			if st.Version == tls.VersionTLS12 && (!strings.HasPrefix(name, "TLS_ECDHE_") || !strings.Contains(name, "_GCM_")) {
				t.Fatalf("TLS 1.2 negotiated %s; want ECDHE with AES-GCM", name)
			}
		})
	}

	// Every TLS 1.2 suite in the policy is ECDHE + AEAD.
	for _, id := range tlsmgr.Policy().CipherSuites {
		name := tls.CipherSuiteName(id)
		if !strings.HasPrefix(name, "TLS_ECDHE_") || !strings.Contains(name, "_GCM_") {
			t.Errorf("policy lists %s", name)
		}
	}
	if v := tlsmgr.Policy().MinVersion; v != tls.VersionTLS12 {
		t.Errorf("MinVersion %x", v)
	}
}

func tlsSuiteIDs(suites []*tls.CipherSuite) []uint16 {
	var ids []uint16
	for _, s := range suites {
		ids = append(ids, s.ID)
	}
	return ids
}

func TestHTTPRedirectsToHTTPSAndHSTS(t *testing.T) {
	g := startTLSGateway(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}}, nil)
	plain := httptestServer(t, g.mgr.HTTPHandler())
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

	cases := []struct{ method, host, path, want string }{
		{"GET", "chat.pforte.test", "/", "https://chat.pforte.test:8443/"},
		{"GET", "chat.pforte.test:80", "/webhook?hub.mode=subscribe&x=1", "https://chat.pforte.test:8443/webhook?hub.mode=subscribe&x=1"},
		{"POST", "CHAT.pforte.test", "/webhook", "https://chat.pforte.test:8443/webhook"},
		// A forged Host must not redirect elsewhere.
		{"GET", "evil.example", "/login", "https://chat.pforte.test:8443/login"},
	}
	for _, c := range cases {
		req, _ := http.NewRequest(c.method, plain+c.path, strings.NewReader("{}"))
		req.Host = c.host
		resp, err := noRedirect.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusPermanentRedirect || resp.Header.Get("Location") != c.want {
			t.Errorf("%s %s%s: %d %q, want 308 %q", c.method, c.host, c.path, resp.StatusCode, resp.Header.Get("Location"), c.want)
		}
		if resp.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("HSTS sent over plain HTTP")
		}
	}

	// Over HTTPS every response carries HSTS, errors included.
	for _, path := range []string{"/healthz", "/webhook", "/no-such-page"} {
		resp, err := g.client(nil).Get("https://chat.pforte.test" + path)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		hsts := resp.Header.Get("Strict-Transport-Security")
		if !strings.Contains(hsts, "max-age=31536000") || !strings.Contains(hsts, "includeSubDomains") {
			t.Errorf("%s: HSTS %q", path, hsts)
		}
	}
}

func TestWebhookOverHTTPSIsStored(t *testing.T) {
	g := startTLSGateway(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}}, nil)
	_, bodies := testenv.Examples(t, "webhooks")
	body := bodies["text"]
	resp := postSigned(t, g.client(nil), g.AppSecret, body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if resp.TLS == nil || resp.TLS.Version < tls.VersionTLS12 {
		t.Fatalf("not over TLS: %+v", resp.TLS)
	}
	wamid := firstWAMID(t, body)
	if code, b := g.API(t, "GET", "/api/v1/messages/"+wamid, nil); code != http.StatusOK {
		t.Fatalf("stored message: %d %s", code, b)
	}
}

func postSigned(t testing.TB, c *http.Client, secret, body []byte) *http.Response {
	t.Helper()
	req, _ := http.NewRequest("POST", "https://chat.pforte.test/webhook", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(secret, body))
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

func firstWAMID(t testing.TB, body []byte) string {
	t.Helper()
	i := bytes.Index(body, []byte(`"wamid.`))
	if i < 0 {
		t.Fatal("no wamid in example")
	}
	j := bytes.IndexByte(body[i+1:], '"')
	return string(body[i+1 : i+1+j])
}

func TestManualCertificateReload(t *testing.T) {
	g := startTLSGateway(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}}, nil)
	first, err := g.handshake(&tls.Config{})
	if err != nil {
		t.Fatal(err)
	}
	serialOf := func(st *tls.ConnectionState) string { return st.PeerCertificates[0].SerialNumber.String() }

	// The files are replaced (as a renewal script does): the watcher
	// picks the new pair up without a restart.
	c, k := g.ca.Issue(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}, NotAfter: time.Now().Add(48 * time.Hour)})
	testenv.WritePair(t, filepath.Dir(g.certFile), c, k)
	var second *tls.ConnectionState
	waitFor(t, 10*time.Second, "new certificate served", func() bool {
		second, err = g.handshake(&tls.Config{})
		return err == nil && serialOf(second) != serialOf(first)
	})

	// A broken pair (key of another certificate) is refused: the current
	// certificate stays, and the status tells why.
	c2, _ := g.ca.Issue(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}})
	testenv.WritePair(t, filepath.Dir(g.certFile), c2, k)
	if err := g.mgr.Reload(); err == nil {
		t.Fatal("Reload accepted a certificate with the wrong key")
	}
	third, err := g.handshake(&tls.Config{})
	if err != nil || serialOf(third) != serialOf(second) {
		t.Fatalf("after a bad reload: %v, serial changed: %v", err, third != nil && serialOf(third) != serialOf(second))
	}
	if g.Panel.CertStatus() != nil {
		t.Fatal("CertStatus before UseTLS")
	}
	g.Panel.UseTLS(g.mgr)
	st := g.Panel.CertStatus()
	if len(st) != 1 || st[0].LastError == "" || st[0].Source != "file" || st[0].Errors == 0 {
		t.Fatalf("status after bad reload: %+v", st)
	}
	if !st[0].NotAfter.Equal(second.PeerCertificates[0].NotAfter) || st[0].Issuer != "Pforte Test CA" {
		t.Fatalf("status describes %v/%q, want the served certificate", st[0].NotAfter, st[0].Issuer)
	}

	// An expired certificate is refused too.
	c3, k3 := g.ca.Issue(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}, NotAfter: time.Now().Add(-time.Minute)})
	testenv.WritePair(t, filepath.Dir(g.certFile), c3, k3)
	if err := g.mgr.Reload(); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Reload of an expired certificate: %v", err)
	}

	// Fixed files and an explicit reload (SIGHUP) clear the error.
	c4, k4 := g.ca.Issue(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}})
	testenv.WritePair(t, filepath.Dir(g.certFile), c4, k4)
	if err := g.mgr.Reload(); err != nil {
		t.Fatal(err)
	}
	if st := g.mgr.Status(); st[0].LastError != "" || st[0].LastRenewal.IsZero() {
		t.Fatalf("status after good reload: %+v", st)
	}

	// The certificate state is in the metrics.
	rec := scrape(t, g.metrics)
	if want := `pforte_tls_certificate_not_after_seconds{issuer="Pforte Test CA",name="chat.pforte.test",source="file"} `; !strings.Contains(rec, want) {
		t.Errorf("metrics lack %s", want)
	}
	// Both bad pairs count; the file watcher may have tried them too.
	var errs float64
	if _, err := fmt.Sscanf(grepMetric(rec, `pforte_tls_certificate_errors_total{name="chat.pforte.test"} `), "%g", &errs); err != nil || errs < 2 {
		t.Errorf("errors_total %v (%v), want at least 2", errs, err)
	}
}

func TestManualCertificateRefusedAtStart(t *testing.T) {
	dir := t.TempDir()
	ca := testenv.NewCA(t, "x")
	c, _ := ca.Issue(t, testenv.Leaf{CN: "a", DNSNames: []string{"a"}})
	_, k := ca.Issue(t, testenv.Leaf{CN: "a", DNSNames: []string{"a"}})
	certFile, keyFile := testenv.WritePair(t, dir, c, k)
	if _, err := tlsmgr.New(tlsmgr.Options{CertFile: certFile, KeyFile: keyFile}); err == nil {
		t.Fatal("a mismatched pair was accepted")
	}
	if _, err := tlsmgr.New(tlsmgr.Options{CertFile: certFile}); err == nil {
		t.Fatal("a certificate without key was accepted")
	}
	if _, err := tlsmgr.New(tlsmgr.Options{CertFile: filepath.Join(dir, "missing.pem"), KeyFile: keyFile}); err == nil {
		t.Fatal("a missing file was accepted")
	}
}

func TestWebhookMutualTLS(t *testing.T) {
	metaCA := testenv.NewCA(t, "Meta Outbound API CA (test)")
	g := startTLSGateway(t, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}}, func(o *tlsmgr.Options) {
		o.ClientCAs = metaCA.Pool
	})
	_, bodies := testenv.Examples(t, "webhooks")
	body := bodies["status_delivered"]
	other := testenv.NewCA(t, "Someone Else")

	// The client always presents its certificate (Go's default would hold
	// back one the server's CA list does not name), so that refusals here
	// are the server's.
	withCert := func(c tls.Certificate) *tls.Config {
		return &tls.Config{GetClientCertificate: func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return &c, nil }}
	}
	metaCert := metaCA.TLSCert(t, testenv.Leaf{CN: tlsmgr.MetaWebhookClientCN, Client: true})
	wrongCN := metaCA.TLSCert(t, testenv.Leaf{CN: "client.example.com", Client: true})
	foreign := other.TLSCert(t, testenv.Leaf{CN: tlsmgr.MetaWebhookClientCN, Client: true})
	expired := metaCA.TLSCert(t, testenv.Leaf{CN: tlsmgr.MetaWebhookClientCN, Client: true, NotAfter: time.Now().Add(-time.Minute)})

	if r := postSigned(t, g.client(withCert(metaCert)), g.AppSecret, body); r.StatusCode != http.StatusOK {
		t.Fatalf("Meta's certificate: %d", r.StatusCode)
	}
	if r := postSigned(t, g.client(nil), g.AppSecret, body); r.StatusCode != http.StatusForbidden {
		t.Fatalf("no certificate: %d, want 403", r.StatusCode)
	}
	if r := postSigned(t, g.client(withCert(wrongCN)), g.AppSecret, body); r.StatusCode != http.StatusForbidden {
		t.Fatalf("Meta CA, wrong name: %d, want 403", r.StatusCode)
	}
	for name, c := range map[string]tls.Certificate{"other CA": foreign, "expired": expired} {
		req, _ := http.NewRequest("POST", "https://chat.pforte.test/webhook", bytes.NewReader(body))
		req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(g.AppSecret, body))
		if resp, err := g.client(withCert(c)).Do(req); err == nil {
			resp.Body.Close()
			t.Fatalf("%s: request got %d; want the handshake refused", name, resp.StatusCode)
		}
	}
	// The panel's users have no client certificate and still get in.
	resp, err := g.client(nil).Get("https://chat.pforte.test/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz without client certificate: %v %v", err, resp)
	}
	resp.Body.Close()
}

func scrape(t testing.TB, reg *prometheus.Registry) string {
	t.Helper()
	srv := httptestServer(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	resp, err := http.Get(srv)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return string(b)
}

func waitFor(t testing.TB, limit time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func httptestServer(t testing.TB, h http.Handler) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

// grepMetric returns the value part of the line that starts with prefix.
func grepMetric(exposition, prefix string) string {
	for _, l := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(l, prefix); ok {
			return v
		}
	}
	return ""
}
