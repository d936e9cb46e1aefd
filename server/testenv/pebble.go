package testenv

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/letsencrypt/pebble/v2/ca"
	"github.com/letsencrypt/pebble/v2/db"
	"github.com/letsencrypt/pebble/v2/va"
	"github.com/letsencrypt/pebble/v2/wfe"
	"github.com/miekg/dns"
)

// Pebble is Let's Encrypt's test ACME server, run in-process on loopback
// with its own DNS resolver that answers 127.0.0.1 for every name, so
// that any test domain validates against listeners on this machine.
type Pebble struct {
	// DirectoryURL is the ACME directory (--acme-ca).
	DirectoryURL string
	// ServerRootFile is a PEM file of the root that signs the ACME
	// endpoint's own certificate (--acme-ca-root).
	ServerRootFile string
	// ServerRoots is the same as a pool.
	ServerRoots *x509.CertPool
	// IssuerRoots verifies certificates Pebble issues; clients of the
	// gateway under test use it as RootCAs.
	IssuerRoots *x509.CertPool

	mu     sync.Mutex
	counts map[string]int
}

// PebbleOptions are where Pebble's validation authority connects for
// HTTP-01 and TLS-ALPN-01, and how long certificates live.
type PebbleOptions struct {
	HTTPPort, TLSPort int
	// Validity of issued certificates; 0 means Pebble's default (90 days).
	Validity time.Duration
}

// StartPebble runs Pebble until the test ends.
func StartPebble(t testing.TB, opts PebbleOptions) *Pebble {
	t.Helper()
	// Pebble reads these when its parts are created.
	os.Setenv("PEBBLE_VA_NOSLEEP", "1")
	logger := log.New(io.Discard, "", 0)
	if testing.Verbose() {
		logger = log.New(os.Stderr, "pebble ", log.Ltime)
	}
	resolver := startDNS(t)
	store := db.NewMemoryStore()
	profiles := map[string]ca.Profile{"default": {Description: "test", ValidityPeriod: uint64(opts.Validity / time.Second)}}
	authority := ca.New(logger, store, "", "ecdsa", 0, 1, profiles)
	validator := va.New(logger, opts.HTTPPort, opts.TLSPort, false, resolver, store)
	front := wfe.New(logger, store, validator, authority, nil, false, false, 0, 0)

	p := &Pebble{counts: map[string]int{}}
	acme := httptest.NewTLSServer(p.count(front.Handler()))
	t.Cleanup(acme.Close)
	mgmt := httptest.NewTLSServer(front.ManagementHandler())
	t.Cleanup(mgmt.Close)

	p.DirectoryURL = acme.URL + wfe.DirectoryPath
	p.ServerRoots = x509.NewCertPool()
	p.ServerRoots.AddCert(acme.Certificate())
	p.ServerRootFile = filepath.Join(t.TempDir(), "pebble-acme-root.pem")
	if err := os.WriteFile(p.ServerRootFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: acme.Certificate().Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	resp, err := mgmt.Client().Get(mgmt.URL + wfe.RootCertPath + "0")
	if err != nil {
		t.Fatalf("pebble: fetching the issuing root: %v", err)
	}
	rootPEM, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	p.IssuerRoots = x509.NewCertPool()
	if !p.IssuerRoots.AppendCertsFromPEM(rootPEM) {
		t.Fatalf("pebble: no root in %q", rootPEM)
	}
	return p
}

func (p *Pebble) count(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.mu.Lock()
		p.counts[r.URL.Path]++
		p.mu.Unlock()
		h.ServeHTTP(w, r)
	})
}

// Requests returns how many requests each ACME path received since the
// last Reset (paths such as /dir, /order-plz, /sign-me-up).
func (p *Pebble) Requests() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.counts))
	for k, v := range p.counts {
		out[k] = v
	}
	return out
}

// Reset zeroes the request counts.
func (p *Pebble) Reset() {
	p.mu.Lock()
	p.counts = map[string]int{}
	p.mu.Unlock()
}

// startDNS serves A records of 127.0.0.1 for every name over TCP (Pebble's
// resolver client speaks TCP) and returns its address.
func startDNS(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &dns.Server{Listener: ln, Handler: dns.HandlerFunc(func(w dns.ResponseWriter, req *dns.Msg) {
		m := new(dns.Msg)
		m.SetReply(req)
		for _, q := range req.Question {
			if q.Qtype == dns.TypeA {
				m.Answer = append(m.Answer, &dns.A{
					Hdr: dns.RR_Header{Name: q.Name, Rrtype: dns.TypeA, Class: dns.ClassINET, Ttl: 60},
					A:   net.IPv4(127, 0, 0, 1),
				})
			}
		}
		w.WriteMsg(m)
	})}
	go srv.ActivateAndServe()
	t.Cleanup(func() { srv.Shutdown() })
	return ln.Addr().String()
}

// FreePort returns a loopback TCP port that was free a moment ago, for
// listeners whose port another party (Pebble's validator) must know
// before they start.
func FreePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}
