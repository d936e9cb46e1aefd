package tlsmgr_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/server/tlsmgr"
)

const acmeDomain = "chat.pforte.test"

// acmeGateway serves the challenge and TLS listeners of a Manager on
// the ports Pebble validates against.
type acmeGateway struct {
	mgr       *tlsmgr.Manager
	httpsAddr string
	pebble    *testenv.Pebble
}

func startACME(t *testing.T, validity time.Duration, mutate func(*tlsmgr.Options)) *acmeGateway {
	t.Helper()
	httpPort, httpsPort := testenv.FreePort(t), testenv.FreePort(t)
	pebble := testenv.StartPebble(t, testenv.PebbleOptions{HTTPPort: httpPort, TLSPort: httpsPort, Validity: validity})
	opts := tlsmgr.Options{
		Domains: []string{acmeDomain}, CertDir: t.TempDir(),
		CA: pebble.DirectoryURL, CARoots: pebble.ServerRoots, Email: "admin@pforte.test",
		HTTPPort: httpPort, HTTPSPort: httpsPort,
		Registerer: prometheus.NewRegistry(),
	}
	if mutate != nil {
		mutate(&opts)
	}
	mgr, err := tlsmgr.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	serve := func(addr string, h http.Handler, tc *tls.Config) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		hs := &http.Server{Handler: h, TLSConfig: tc, ErrorLog: discardLog()}
		if tc != nil {
			ln = tls.NewListener(ln, tc)
		}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
	}
	httpsAddr := fmt.Sprintf("127.0.0.1:%d", httpsPort)
	serve(fmt.Sprintf("127.0.0.1:%d", httpPort), mgr.HTTPHandler(), nil)
	serve(httpsAddr, tlsmgr.HSTS(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("ok")) })), mgr.TLSConfig())
	if err := mgr.Start(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(mgr.Stop)
	return &acmeGateway{mgr: mgr, httpsAddr: httpsAddr, pebble: pebble}
}

func (g *acmeGateway) leaf() (*x509.Certificate, error) {
	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", g.httpsAddr,
		&tls.Config{ServerName: acmeDomain, RootCAs: g.pebble.IssuerRoots})
	if err != nil {
		return nil, err
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0], nil
}

func (g *acmeGateway) waitForCert(t *testing.T) *x509.Certificate {
	t.Helper()
	var leaf *x509.Certificate
	waitFor(t, 90*time.Second, "a certificate from Pebble", func() bool {
		var err error
		leaf, err = g.leaf()
		return err == nil
	})
	return leaf
}

// Each challenge type works on its own: HTTP-01 through HTTPHandler on
// the plain listener, TLS-ALPN-01 through the TLS listener's config.
func TestACMEChallenges(t *testing.T) {
	for _, c := range []struct {
		name   string
		mutate func(*tlsmgr.Options)
	}{
		{"http-01", func(o *tlsmgr.Options) { o.DisableTLSALPN01 = true }},
		{"tls-alpn-01", func(o *tlsmgr.Options) { o.DisableHTTP01 = true }},
	} {
		t.Run(c.name, func(t *testing.T) {
			g := startACME(t, 0, c.mutate)
			leaf := g.waitForCert(t)
			if err := leaf.VerifyHostname(acmeDomain); err != nil {
				t.Fatal(err)
			}
			// A client without SNI gets the same certificate.
			conn, err := tls.Dial("tcp", g.httpsAddr, &tls.Config{InsecureSkipVerify: true})
			if err != nil {
				t.Fatalf("handshake without SNI: %v", err)
			}
			if got := conn.ConnectionState().PeerCertificates[0]; !got.Equal(leaf) {
				t.Fatalf("without SNI served %v", got.DNSNames)
			}
			conn.Close()
			st := g.mgr.Status()
			if len(st) != 1 || st[0].Name != acmeDomain || st[0].Source != "acme" || !st[0].NotAfter.Equal(leaf.NotAfter) ||
				st[0].Issuer != leaf.Issuer.CommonName || st[0].LastRenewal.IsZero() || st[0].LastError != "" {
				t.Fatalf("status %+v does not describe %s / %s", st, leaf.NotAfter, leaf.Issuer.CommonName)
			}
		})
	}
}

// A short-lived certificate is renewed while clients keep connecting,
// and not one handshake fails across the switch.
func TestACMERenewalWithoutFailedHandshakes(t *testing.T) {
	g := startACME(t, 30*time.Second, func(o *tlsmgr.Options) {
		o.RenewCheckInterval = time.Second
		o.RenewalWindowRatio = 0.5
	})
	first := g.waitForCert(t)

	var ok, failed atomic.Int64
	var mu sync.Mutex
	var lastErr error
	serials := map[string]int{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				leaf, err := g.leaf()
				mu.Lock()
				if err != nil {
					failed.Add(1)
					lastErr = err
				} else {
					ok.Add(1)
					serials[leaf.SerialNumber.String()]++
				}
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	var renewed *x509.Certificate
	waitFor(t, 60*time.Second, "the renewed certificate", func() bool {
		leaf, err := g.leaf()
		if err == nil && leaf.SerialNumber.Cmp(first.SerialNumber) != 0 {
			renewed = leaf
			return true
		}
		return false
	})
	// Keep connecting a little past the switch.
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()

	t.Logf("handshakes: %d ok, %d failed; served serials: %v", ok.Load(), failed.Load(), serials)
	if failed.Load() != 0 {
		t.Fatalf("%d handshakes failed during renewal; last: %v", failed.Load(), lastErr)
	}
	if len(serials) < 2 || serials[renewed.SerialNumber.String()] == 0 {
		t.Fatalf("clients did not see both certificates: %v", serials)
	}
	if !renewed.NotAfter.After(first.NotAfter) {
		t.Fatalf("renewed certificate expires %v, not after %v", renewed.NotAfter, first.NotAfter)
	}
	st := g.mgr.Status()
	if len(st) != 1 || !st[0].NotAfter.Equal(renewed.NotAfter) || st[0].LastError != "" {
		t.Fatalf("status after renewal: %+v", st)
	}
}
