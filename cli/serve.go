package cli

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
)

// serveConfig is every setting of "pforte serve".
type serveConfig struct {
	DataDir      string
	Demo         bool
	Domain       string
	HTTPAddr     string
	HTTPSAddr    string
	InternalAddr string
	ACMECA       string
	ACMECARoot   string
	ACMEEmail    string
	TLSCert      string
	TLSKey       string
	AppSecret    string
	VerifyToken  string
	AccessToken  string
	GraphURL     string
	GraphVersion string
	LogLevel     string
	LogFormat    string
	MaxBody      int64
	ShutdownWait time.Duration
	Sending      sendingConfig

	TrustedProxies string
	ClientIPHeader string
	WebhookMTLS    bool
	WebhookMTLSCA  string
	WebhookMTLSCN  string
	TLSReload      time.Duration

	Fanout fanoutConfig
	Jobs   jobsConfig
	// Campaign tunes campaigns (cli/campaigns.go).
	Campaign campaignConfig
	Replica  replicaConfig
	// SSO is single sign-on from the start parameters (cli/sso.go).
	SSO ssoConfig

	domains []string       // Domain, split and checked
	proxies []netip.Prefix // TrustedProxies, parsed
	sso     panel.SSOFixed // SSO, checked, with the secret file read
}

// fanoutConfig tunes forwarding to subscriptions (see server/fanout).
type fanoutConfig struct {
	Timeout     time.Duration
	RetryBase   time.Duration
	RetryMax    time.Duration
	MaxInFlight int
}

func serveFlags(env envLookup) (*flag.FlagSet, *serveConfig) {
	c := &serveConfig{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.StringVar(&c.DataDir, "data-dir", defaultDataDir(env), "data directory (database, media, certificates, backups)")
	fs.BoolVar(&c.Demo, "demo", false, "run on generated secrets with the built-in Cloud API simulator")
	fs.StringVar(&c.Domain, "domain", "", "comma-separated host names for automatic HTTPS")
	fs.StringVar(&c.HTTPAddr, "http-addr", "", "public listener (default 127.0.0.1:8080, or :80 with --domain)")
	fs.StringVar(&c.HTTPSAddr, "https-addr", ":443", "TLS listener when a domain or certificate is configured")
	fs.StringVar(&c.InternalAddr, "internal-addr", "127.0.0.1:8081", "internal API, Graph-compatible proxy and metrics; never expose to the internet")
	fs.StringVar(&c.ACMECA, "acme-ca", "https://acme-v02.api.letsencrypt.org/directory", "ACME directory URL")
	fs.StringVar(&c.ACMECARoot, "acme-ca-root", "", "PEM file of the ACME server's root certificate (private or test CAs)")
	fs.StringVar(&c.ACMEEmail, "acme-email", "", "ACME account e-mail")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "certificate file to use instead of ACME")
	fs.StringVar(&c.TLSKey, "tls-key", "", "key file for --tls-cert")
	fs.StringVar(&c.AppSecret, "app-secret", "", "Meta app secret; verifies X-Hub-Signature-256 (comma-separated during a rotation)")
	fs.StringVar(&c.VerifyToken, "verify-token", "", "webhook verify token as typed into Meta's dashboard")
	fs.StringVar(&c.AccessToken, "access-token", "", "Meta system-user access token for sends and media")
	fs.StringVar(&c.GraphURL, "graph-url", "https://graph.facebook.com", "Graph API base URL")
	fs.StringVar(&c.GraphVersion, "graph-version", "v24.0", "Graph API version for outgoing calls")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	fs.Int64Var(&c.MaxBody, "max-body", gateway.DefaultMaxBody, "largest accepted webhook body in bytes")
	fs.DurationVar(&c.ShutdownWait, "shutdown-timeout", 25*time.Second, "how long a stop waits for requests in flight")
	c.Sending.flags(fs)
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "behind a reverse proxy: comma-separated addresses/prefixes whose client-address and X-Forwarded-Proto headers are believed")
	fs.StringVar(&c.ClientIPHeader, "client-ip-header", "X-Forwarded-For", "header a trusted proxy puts the client address in")
	fs.BoolVar(&c.WebhookMTLS, "webhook-mtls", false, "require Meta's client certificate on POST /webhook (needs HTTPS and --webhook-mtls-ca)")
	fs.StringVar(&c.WebhookMTLSCA, "webhook-mtls-ca", "", "PEM file of the CA that signs Meta's webhook client certificate")
	fs.StringVar(&c.WebhookMTLSCN, "webhook-mtls-cn", tlsmgr.MetaWebhookClientCN, "common name the webhook client certificate must carry")
	fs.DurationVar(&c.TLSReload, "tls-reload-interval", 30*time.Second, "how often --tls-cert/--tls-key are checked for changes (SIGHUP reloads at once)")
	fs.DurationVar(&c.Fanout.Timeout, "fanout-timeout", 10*time.Second, "how long a subscription's receiver may take to answer one forwarded delivery")
	fs.DurationVar(&c.Fanout.RetryBase, "fanout-retry-base", 2*time.Second, "first wait before a failed forward is retried; doubles per attempt")
	fs.DurationVar(&c.Fanout.RetryMax, "fanout-retry-max", time.Hour, "longest wait between retries of a forward")
	fs.IntVar(&c.Fanout.MaxInFlight, "fanout-concurrency", 16, "forwards in flight at once across all subscriptions (one per subscription)")
	c.Jobs.flags(fs)
	c.Campaign.flags(fs)
	c.Replica.flags(fs)
	c.SSO.flags(fs)
	return fs, c
}

// validate checks every setting and names the first bad one.
func (c *serveConfig) validate() error {
	domains, err := parseDomains(c.Domain)
	if err != nil {
		return settingError("domain", c.Domain, err.Error())
	}
	c.domains = domains
	if c.HTTPAddr == "" {
		c.HTTPAddr = "127.0.0.1:8080"
		if c.Domain != "" {
			c.HTTPAddr = ":80"
		}
	}
	for _, a := range []struct{ name, v string }{{"http-addr", c.HTTPAddr}, {"https-addr", c.HTTPSAddr}, {"internal-addr", c.InternalAddr}} {
		if err := checkAddr(a.name, a.v); err != nil {
			return err
		}
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		if c.TLSCert == "" {
			return settingError("tls-cert", c.TLSCert, "--tls-key is set, so the certificate file is needed too")
		}
		return settingError("tls-key", c.TLSKey, "--tls-cert is set, so its key file is needed too")
	}
	if c.tlsEnabled() {
		if c.HTTPAddr == c.HTTPSAddr {
			return settingError("https-addr", c.HTTPSAddr, "must differ from --http-addr, which then serves redirects")
		}
		if u, err := url.Parse(c.ACMECA); c.TLSCert == "" && (err != nil || u.Scheme != "https" || u.Host == "") {
			return settingError("acme-ca", c.ACMECA, "want the https:// URL of an ACME directory")
		}
	}
	if c.WebhookMTLS {
		if !c.tlsEnabled() {
			return settingError("webhook-mtls", "true", "mutual TLS needs Pforte to terminate TLS: set --domain or --tls-cert")
		}
		if c.WebhookMTLSCA == "" {
			return settingError("webhook-mtls-ca", "", "mutual TLS needs the PEM file of Meta's client CA (see README)")
		}
		if c.WebhookMTLSCN == "" {
			return settingError("webhook-mtls-cn", "", "must not be empty")
		}
	}
	if c.proxies, err = tlsmgr.ParseTrustedProxies(c.TrustedProxies); err != nil {
		return settingError("trusted-proxies", c.TrustedProxies, err.Error())
	}
	if c.ClientIPHeader == "" || strings.ContainsAny(c.ClientIPHeader, " :\r\n") {
		return settingError("client-ip-header", c.ClientIPHeader, `want a header name like "X-Forwarded-For"`)
	}
	if c.TLSReload < time.Second {
		return settingError("tls-reload-interval", c.TLSReload.String(), "want at least 1s")
	}
	if u, err := url.Parse(c.GraphURL); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return settingError("graph-url", c.GraphURL, "want an absolute http(s) URL")
	}
	if !strings.HasPrefix(c.GraphVersion, "v") {
		return settingError("graph-version", c.GraphVersion, `want a version like "v24.0"`)
	}
	if c.MaxBody < 3<<20 {
		return settingError("max-body", fmt.Sprint(c.MaxBody), "Meta sends up to 3 MB; allow at least 3145728")
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return settingError("log-level", c.LogLevel, err.Error())
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return settingError("log-format", c.LogFormat, `want "text" or "json"`)
	}
	for _, d := range []struct {
		name string
		v    time.Duration
	}{{"fanout-timeout", c.Fanout.Timeout}, {"fanout-retry-base", c.Fanout.RetryBase}, {"fanout-retry-max", c.Fanout.RetryMax}} {
		if d.v <= 0 {
			return settingError(d.name, d.v.String(), "must be a positive duration, e.g. 10s")
		}
	}
	if c.Fanout.RetryMax < c.Fanout.RetryBase {
		return settingError("fanout-retry-max", c.Fanout.RetryMax.String(), "must be at least --fanout-retry-base")
	}
	if c.Fanout.MaxInFlight < 1 {
		return settingError("fanout-concurrency", fmt.Sprint(c.Fanout.MaxInFlight), "must be at least 1")
	}
	if c.DataDir == "" {
		return settingError("data-dir", c.DataDir, "must not be empty")
	}
	if err := c.Jobs.validate(); err != nil {
		return err
	}
	if err := c.Replica.validate(); err != nil {
		return err
	}
	if c.sso, err = c.SSO.fixed(); err != nil {
		return err
	}
	return c.Sending.validate()
}

// tlsEnabled reports whether Pforte terminates TLS itself.
func (c *serveConfig) tlsEnabled() bool { return len(c.domains) > 0 || c.TLSCert != "" }

// parseDomains splits --domain and refuses what ACME cannot issue for
// with HTTP-01/TLS-ALPN-01: addresses, wildcards, ports, URLs.
func parseDomains(s string) ([]string, error) {
	var out []string
	for _, d := range strings.Split(s, ",") {
		d = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(d), "."))
		if d == "" {
			continue
		}
		switch {
		case strings.Contains(d, "://") || strings.ContainsAny(d, "/:"):
			return nil, fmt.Errorf("%q: give the bare host name, e.g. chat.example.de", d)
		case strings.HasPrefix(d, "*."):
			return nil, fmt.Errorf("%q: wildcard names need a DNS challenge, which Pforte does not do", d)
		case net.ParseIP(d) != nil:
			return nil, fmt.Errorf("%q: an address, not a name; point a DNS name at it", d)
		case len(d) > 253 || !validHostname(d):
			return nil, fmt.Errorf("%q is not a valid host name", d)
		}
		if !slices.Contains(out, d) {
			out = append(out, d)
		}
	}
	return out, nil
}

func validHostname(d string) bool {
	for _, label := range strings.Split(d, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	l, _ := parseLevel(level)
	opts := &slog.HandlerOptions{Level: l}
	if format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

type listener struct {
	name string
	ln   net.Listener
	srv  *http.Server
}

// newTLSManager builds certificate management from the settings, reading
// the PEM files named on the command line.
func newTLSManager(cfg *serveConfig, log *slog.Logger, reg prometheus.Registerer) (*tlsmgr.Manager, error) {
	opts := tlsmgr.Options{
		Domains:        cfg.domains,
		CertDir:        filepath.Join(cfg.DataDir, "certs"),
		CA:             cfg.ACMECA,
		Email:          cfg.ACMEEmail,
		CertFile:       cfg.TLSCert,
		KeyFile:        cfg.TLSKey,
		ReloadInterval: cfg.TLSReload,
		HTTPPort:       addrPort(cfg.HTTPAddr, 80),
		HTTPSPort:      addrPort(cfg.HTTPSAddr, 443),
		Logger:         log,
		Registerer:     reg,
	}
	var err error
	if cfg.ACMECARoot != "" {
		if opts.CARoots, err = loadPool(cfg.ACMECARoot); err != nil {
			return nil, settingError("acme-ca-root", cfg.ACMECARoot, err.Error())
		}
	}
	if cfg.WebhookMTLS {
		if opts.ClientCAs, err = loadPool(cfg.WebhookMTLSCA); err != nil {
			return nil, settingError("webhook-mtls-ca", cfg.WebhookMTLSCA, err.Error())
		}
	}
	m, err := tlsmgr.New(opts)
	if err != nil && cfg.TLSCert != "" {
		return nil, fmt.Errorf("--tls-cert/--tls-key (PFORTE_TLS_CERT/PFORTE_TLS_KEY): %w", err)
	}
	return m, err
}

// loadPool reads a PEM file of one or more CA certificates.
func loadPool(path string) (*x509.CertPool, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(b) {
		return nil, errors.New("no PEM certificate in the file")
	}
	return pool, nil
}

// addrPort is the port of host:port, or def when it is missing or 0.
func addrPort(addr string, def int) int {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		return def
	}
	n, err := strconv.Atoi(p)
	if err != nil || n == 0 {
		return def
	}
	return n
}

// startWatchdog pings systemd's watchdog while the database writer still
// commits: a wedged writer stops the pings and systemd restarts Pforte.
func startWatchdog(env envLookup, st *store.Store, log *slog.Logger) (stop func()) {
	every := sdWatchdogInterval(env)
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				ctx, cancel := context.WithTimeout(context.Background(), every)
				err := st.Write(ctx, func(*store.Tx) error { return nil })
				cancel()
				if err != nil {
					log.Error("watchdog: the database writer does not answer; not telling systemd we are alive", "err", err)
					continue
				}
				sdNotify(env, "WATCHDOG=1")
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

func listen(addr, name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on --%s (%s) %q: %w", name, envName(name), addr, err)
	}
	return ln, nil
}

// newHTTPServer sets the timeouts every listener needs against slow
// clients. Handshake and protocol errors (scanners, expired clients) go to
// the debug log rather than stderr.
func newHTTPServer(h http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
