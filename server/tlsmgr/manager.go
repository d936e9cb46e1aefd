// Package tlsmgr gets, renews and serves the public listener's certificates
// (certmagic with Let's Encrypt, or files the admin provides), holds the TLS
// policy, and the HTTPS-related middleware: HSTS, trusted proxies, mutual
// TLS for Meta's webhook.
package tlsmgr

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/caddyserver/certmagic"
	"github.com/mholt/acmez/v3"
	"github.com/prometheus/client_golang/prometheus"
)

// Policy is the TLS configuration every Pforte TLS listener starts from.
// It follows BSI TR-02102-2 as far as crypto/tls allows: TLS 1.2 and 1.3
// only, and for 1.2 only ECDHE key exchange with AEAD ciphers (AES-GCM;
// ChaCha20-Poly1305 is left out because the TR does not list it).
//
// Deviations Go imposes: TLS 1.3 suites cannot be chosen, so ChaCha20 is
// offered in 1.3 unless the binary runs with GODEBUG=fips140=on; X25519 is
// kept among the groups because Meta's and most browsers' clients prefer it.
func Policy() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
		},
		CurvePreferences: []tls.CurveID{tls.X25519MLKEM768, tls.SecP256r1MLKEM768, tls.CurveP256, tls.CurveP384, tls.X25519},
		NextProtos:       []string{"h2", "http/1.1"},
	}
}

// Options configures HTTPS. Either Domains with ACME, or CertFile and
// KeyFile (then Domains only names the hosts redirects go to).
type Options struct {
	// Domains are the host names certificates are obtained for.
	Domains []string
	// CertDir is certmagic's storage: account, keys, certificates and
	// locks. It lives in the data directory so it survives restarts and
	// works under systemd's ProtectHome.
	CertDir string
	// CA is the ACME directory URL; empty means Let's Encrypt production.
	CA string
	// CARoots, if set, is the only trust for talking to the ACME server
	// (private or test CAs). It does not make clients trust the result.
	CARoots *x509.CertPool
	// Email is the ACME account contact.
	Email string

	// CertFile and KeyFile switch to a certificate managed by the admin;
	// it is reloaded by Reload and whenever the files change.
	CertFile, KeyFile string
	// ReloadInterval is how often the files are checked for changes.
	ReloadInterval time.Duration

	// HTTPPort and HTTPSPort are where the listeners are reachable from
	// the outside: ACME validates HTTP-01 and TLS-ALPN-01 there, and
	// redirects point at HTTPSPort. Defaults 80 and 443.
	HTTPPort, HTTPSPort int

	// ClientCAs turns on mutual TLS for Meta's webhook client: handshakes
	// verify a presented certificate against these roots. Browsers present
	// none and are unaffected; WebhookMTLS then insists on the subject.
	ClientCAs *x509.CertPool

	// DisableHTTP01 and DisableTLSALPN01 turn one challenge type off
	// (e.g. when port 80 is not reachable from the internet).
	DisableHTTP01, DisableTLSALPN01 bool

	// RenewCheckInterval and RenewalWindowRatio tune certmagic's
	// maintenance; zero means certmagic's defaults (10 min, 1/3).
	RenewCheckInterval time.Duration
	RenewalWindowRatio float64

	Logger *slog.Logger
	// Registerer receives the certificate collector; nil registers none.
	Registerer prometheus.Registerer
}

// Manager owns the certificates of the TLS listener: obtained and
// renewed by ACME, or loaded from files the admin manages.
type Manager struct {
	opts Options
	log  *slog.Logger

	// ACME mode.
	cache  *certmagic.Cache
	magic  *certmagic.Config
	issuer *certmagic.ACMEIssuer

	// File mode.
	manual    atomic.Pointer[tls.Certificate]
	fileStamp string

	mu    sync.Mutex
	state map[string]*certState

	stopOnce sync.Once
	stop     chan struct{}
	wg       sync.WaitGroup
}

// certState is what certmagic does not keep for us: the outcome of the
// last attempt per name.
type certState struct {
	lastRenewal time.Time
	lastError   string
	lastErrorAt time.Time
	errors      int
}

// CertStatus is the state of one name's certificate, for metrics, the
// panel and "pforte doctor".
type CertStatus struct {
	Name        string    `json:"name"`
	Source      string    `json:"source"` // "acme" or "file"
	Issuer      string    `json:"issuer,omitempty"`
	NotBefore   time.Time `json:"not_before,omitzero"`
	NotAfter    time.Time `json:"not_after,omitzero"`
	LastRenewal time.Time `json:"last_renewal,omitzero"`
	LastError   string    `json:"last_error,omitempty"`
	LastErrorAt time.Time `json:"last_error_at,omitzero"`
	Errors      int       `json:"errors"`
}

// Valid reports whether the name has a certificate valid at t.
func (c CertStatus) Valid(t time.Time) bool {
	return !c.NotAfter.IsZero() && t.After(c.NotBefore) && t.Before(c.NotAfter)
}

// New prepares certificate management; Start begins it.
func New(opts Options) (*Manager, error) {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.HTTPPort == 0 {
		opts.HTTPPort = 80
	}
	if opts.HTTPSPort == 0 {
		opts.HTTPSPort = 443
	}
	if opts.ReloadInterval <= 0 {
		opts.ReloadInterval = 30 * time.Second
	}
	for i, d := range opts.Domains {
		opts.Domains[i] = strings.ToLower(strings.TrimSpace(d))
	}
	m := &Manager{opts: opts, log: opts.Logger.With("component", "tls"), state: map[string]*certState{}, stop: make(chan struct{})}
	switch {
	case opts.CertFile != "" || opts.KeyFile != "":
		if opts.CertFile == "" || opts.KeyFile == "" {
			return nil, errors.New("server: tls: a certificate file needs its key file and the other way round")
		}
		if err := m.loadFiles(); err != nil {
			return nil, err
		}
	case len(opts.Domains) > 0:
		if opts.CertDir == "" {
			return nil, errors.New("server: tls: no certificate storage directory")
		}
		if err := os.MkdirAll(opts.CertDir, 0o700); err != nil {
			return nil, fmt.Errorf("server: tls: certificate storage: %w", err)
		}
		m.setupACME()
	default:
		return nil, errors.New("server: tls: neither domains nor certificate files given")
	}
	if opts.Registerer != nil {
		opts.Registerer.MustRegister(certCollector{m})
	}
	return m, nil
}

func (m *Manager) setupACME() {
	zl := newZapLogger(m.log)
	m.cache = certmagic.NewCache(certmagic.CacheOptions{
		GetConfigForCert:   func(certmagic.Certificate) (*certmagic.Config, error) { return m.magic, nil },
		RenewCheckInterval: m.opts.RenewCheckInterval,
		Logger:             zl,
	})
	m.magic = certmagic.New(m.cache, certmagic.Config{
		Storage:            &certmagic.FileStorage{Path: m.opts.CertDir},
		RenewalWindowRatio: m.opts.RenewalWindowRatio,
		// Clients that send no SNI (old tools, scanners by IP) get the
		// first name's certificate instead of a failed handshake.
		DefaultServerName: m.opts.Domains[0],
		OnEvent:           m.onEvent,
		Logger:            zl,
	})
	ca := m.opts.CA
	if ca == "" {
		ca = certmagic.LetsEncryptProductionCA
	}
	m.issuer = certmagic.NewACMEIssuer(m.magic, certmagic.ACMEIssuer{
		CA:     ca,
		Email:  m.opts.Email,
		Agreed: true,
		// The listeners already hold these ports, so certmagic answers
		// challenges through HTTPHandler and the TLS config instead of
		// binding its own.
		AltHTTPPort:             m.opts.HTTPPort,
		AltTLSALPNPort:          m.opts.HTTPSPort,
		TrustedRoots:            m.opts.CARoots,
		DisableHTTPChallenge:    m.opts.DisableHTTP01,
		DisableTLSALPNChallenge: m.opts.DisableTLSALPN01,
		Logger:                  zl,
	})
	m.magic.Issuers = []certmagic.Issuer{m.issuer}
}

// ACME reports whether certificates come from an ACME CA.
func (m *Manager) ACME() bool { return m.magic != nil }

// Start begins obtaining and renewing certificates (ACME) or watching the
// certificate files. It does not wait for the CA: the listener serves as
// soon as a certificate is there.
func (m *Manager) Start(ctx context.Context) error {
	if m.ACME() {
		if err := m.magic.ManageAsync(ctx, m.opts.Domains); err != nil {
			return fmt.Errorf("server: tls: managing %v: %w", m.opts.Domains, err)
		}
		return nil
	}
	m.wg.Add(1)
	go m.watchFiles()
	return nil
}

// Stop ends renewals and file watching.
func (m *Manager) Stop() {
	m.stopOnce.Do(func() {
		close(m.stop)
		if m.cache != nil {
			m.cache.Stop()
		}
	})
	m.wg.Wait()
}

// TLSConfig is the configuration for the HTTPS listener.
func (m *Manager) TLSConfig() *tls.Config {
	c := Policy()
	if m.ACME() {
		c.GetCertificate = m.magic.GetCertificate
		// TLS-ALPN-01 challenges arrive as handshakes with this protocol.
		c.NextProtos = append(c.NextProtos, acmez.ACMETLS1Protocol)
	} else {
		c.GetCertificate = func(*tls.ClientHelloInfo) (*tls.Certificate, error) { return m.manual.Load(), nil }
	}
	if m.opts.ClientCAs != nil {
		c.ClientAuth = tls.VerifyClientCertIfGiven
		c.ClientCAs = m.opts.ClientCAs
	}
	return c
}

// HTTPHandler serves the plain-HTTP listener: ACME HTTP-01 challenges, and
// a redirect to HTTPS for everything else.
func (m *Manager) HTTPHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m.issuer != nil && m.issuer.HandleHTTPChallenge(w, r) {
			return
		}
		host := r.Host
		if h, _, err := net.SplitHostPort(host); err == nil {
			host = h
		}
		host = strings.ToLower(host)
		// Only our own names: a forged Host must not turn this into a
		// redirect to somewhere else.
		if len(m.opts.Domains) > 0 && !slices.Contains(m.opts.Domains, host) {
			host = m.opts.Domains[0]
		}
		if host == "" {
			http.Error(w, "HTTPS only", http.StatusBadRequest)
			return
		}
		if m.opts.HTTPSPort != 443 {
			host = net.JoinHostPort(host, strconv.Itoa(m.opts.HTTPSPort))
		}
		w.Header().Set("Connection", "close")
		http.Redirect(w, r, "https://"+host+r.URL.RequestURI(), http.StatusPermanentRedirect)
	})
}

// Reload re-reads the certificate files (SIGHUP). A broken pair is
// refused and the current certificate stays in use.
func (m *Manager) Reload() error {
	if m.ACME() {
		return nil
	}
	return m.loadFiles()
}

func (m *Manager) loadFiles() error {
	stamp := fileStamp(m.opts.CertFile, m.opts.KeyFile)
	cert, err := tls.LoadX509KeyPair(m.opts.CertFile, m.opts.KeyFile)
	if err == nil && cert.Leaf != nil && time.Now().After(cert.Leaf.NotAfter) {
		err = fmt.Errorf("certificate expired on %s", cert.Leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	name := m.fileName(cert.Leaf)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.fileStamp = stamp
	st := m.stateLocked(name)
	if err != nil {
		err = fmt.Errorf("server: tls: loading %s and %s: %w", m.opts.CertFile, m.opts.KeyFile, err)
		st.lastError, st.lastErrorAt = err.Error(), time.Now()
		st.errors++
		return err
	}
	m.manual.Store(&cert)
	st.lastRenewal, st.lastError, st.lastErrorAt = time.Now(), "", time.Time{}
	m.log.Info("certificate loaded", "file", m.opts.CertFile, "names", cert.Leaf.DNSNames, "not_after", cert.Leaf.NotAfter)
	return nil
}

// fileName is the name the file certificate is reported under.
func (m *Manager) fileName(leaf *x509.Certificate) string {
	if leaf != nil && len(leaf.DNSNames) > 0 {
		return leaf.DNSNames[0]
	}
	if cur := m.manual.Load(); cur != nil && len(cur.Leaf.DNSNames) > 0 {
		return cur.Leaf.DNSNames[0]
	}
	return m.opts.CertFile
}

// fileStamp changes whenever either file is replaced or rewritten.
func fileStamp(paths ...string) string {
	var b strings.Builder
	for _, p := range paths {
		if fi, err := os.Stat(p); err == nil {
			fmt.Fprintf(&b, "%d/%d;", fi.ModTime().UnixNano(), fi.Size())
		} else {
			b.WriteString("missing;")
		}
	}
	return b.String()
}

// watchFiles polls the files: renewal scripts (certbot, acme.sh) replace
// them without telling anyone, and polling needs no inotify dependency.
func (m *Manager) watchFiles() {
	defer m.wg.Done()
	t := time.NewTicker(m.opts.ReloadInterval)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.mu.Lock()
			changed := fileStamp(m.opts.CertFile, m.opts.KeyFile) != m.fileStamp
			m.mu.Unlock()
			if changed {
				if err := m.loadFiles(); err != nil {
					m.log.Error("certificate files changed but cannot be used; keeping the current certificate", "err", err)
				}
			}
		}
	}
}

func (m *Manager) stateLocked(name string) *certState {
	st := m.state[name]
	if st == nil {
		st = &certState{}
		m.state[name] = st
	}
	return st
}

// onEvent records certmagic's outcomes; it runs synchronously inside
// certmagic, so it only updates memory.
func (m *Manager) onEvent(_ context.Context, event string, data map[string]any) error {
	name, _ := data["identifier"].(string)
	switch event {
	case "cert_obtained":
		renewal, _ := data["renewal"].(bool)
		m.mu.Lock()
		st := m.stateLocked(name)
		st.lastRenewal, st.lastError, st.lastErrorAt = time.Now(), "", time.Time{}
		m.mu.Unlock()
		m.log.Info("certificate obtained", "name", name, "renewal", renewal, "issuer", data["issuer"])
	case "cert_failed":
		renewal, _ := data["renewal"].(bool)
		msg := fmt.Sprint(data["error"])
		m.mu.Lock()
		st := m.stateLocked(name)
		st.lastError, st.lastErrorAt = msg, time.Now()
		st.errors++
		m.mu.Unlock()
		m.log.Error("certificate could not be obtained; certmagic retries with backoff", "name", name, "renewal", renewal, "err", msg)
	}
	return nil
}

// Status reports every managed name's certificate.
func (m *Manager) Status() []CertStatus {
	var out []CertStatus
	if m.ACME() {
		for _, name := range m.opts.Domains {
			cs := CertStatus{Name: name, Source: "acme"}
			for _, c := range m.cache.AllMatchingCertificates(name) {
				if c.Leaf != nil && c.Leaf.NotAfter.After(cs.NotAfter) {
					cs.Issuer, cs.NotBefore, cs.NotAfter = issuerName(c.Leaf), c.Leaf.NotBefore, c.Leaf.NotAfter
				}
			}
			out = append(out, m.withState(cs))
		}
		return out
	}
	cs := CertStatus{Source: "file"}
	if c := m.manual.Load(); c != nil {
		cs.Name = m.fileName(c.Leaf)
		cs.Issuer, cs.NotBefore, cs.NotAfter = issuerName(c.Leaf), c.Leaf.NotBefore, c.Leaf.NotAfter
	} else {
		cs.Name = m.opts.CertFile
	}
	return append(out, m.withState(cs))
}

func (m *Manager) withState(cs CertStatus) CertStatus {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st := m.state[cs.Name]; st != nil {
		cs.LastRenewal, cs.LastError, cs.LastErrorAt, cs.Errors = st.lastRenewal, st.lastError, st.lastErrorAt, st.errors
	}
	return cs
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	return c.Issuer.String()
}
