package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server"
	"github.com/pforte/pforte/server/fanout"
	"github.com/pforte/pforte/server/meta"
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
	Fanout       fanoutConfig
	Jobs         jobsConfig
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
	fs.Int64Var(&c.MaxBody, "max-body", server.DefaultMaxBody, "largest accepted webhook body in bytes")
	fs.DurationVar(&c.ShutdownWait, "shutdown-timeout", 25*time.Second, "how long a stop waits for requests in flight")
	fs.DurationVar(&c.Fanout.Timeout, "fanout-timeout", 10*time.Second, "how long a subscription's receiver may take to answer one forwarded delivery")
	fs.DurationVar(&c.Fanout.RetryBase, "fanout-retry-base", 2*time.Second, "first wait before a failed forward is retried; doubles per attempt")
	fs.DurationVar(&c.Fanout.RetryMax, "fanout-retry-max", time.Hour, "longest wait between retries of a forward")
	fs.IntVar(&c.Fanout.MaxInFlight, "fanout-concurrency", 16, "forwards in flight at once across all subscriptions (one per subscription)")
	c.Jobs.flags(fs)
	return fs, c
}

// validate checks every setting and names the first bad one.
func (c *serveConfig) validate() error {
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
	if c.Domain != "" || c.TLSCert != "" || c.TLSKey != "" {
		return settingError("domain", c.Domain, "HTTPS is not yet available in this version; run behind a TLS proxy")
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
	return nil
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

func cmdServe(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs, cfg := serveFlags(env)
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if err := cfg.validate(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	if cfg.Demo {
		if cfg.AppSecret == "" {
			cfg.AppSecret = randomToken()
		}
		if cfg.VerifyToken == "" {
			cfg.VerifyToken = randomToken()
		}
		log.Info("demo mode: generated webhook secrets (the Cloud API simulator arrives with the sending feature)",
			"verify_token", cfg.VerifyToken)
	}
	if cfg.AppSecret == "" {
		log.Warn("no Meta app secret set: webhook deliveries are answered 503 until --app-secret (PFORTE_APP_SECRET) is given")
	}

	reg := prometheus.NewRegistry()
	metrics := server.NewMetrics(reg)
	st, err := store.Open(ctx, cfg.DataDir, store.Options{Logger: log, OnCommit: metrics.ObserveCommit})
	if err != nil {
		return err
	}
	defer st.Close()
	// The fan-out worker starts after the store opens and stops before it
	// closes (below), so that every attempt's outcome is recorded.
	fw := fanout.New(st, fanout.Options{Logger: log, Timeout: cfg.Fanout.Timeout, RetryBase: cfg.Fanout.RetryBase,
		RetryMax: cfg.Fanout.RetryMax, MaxInFlight: cfg.Fanout.MaxInFlight, UserAgent: "Pforte-Fanout/" + version})
	reg.MustRegister(fw.Collector())
	fw.Start(ctx)
	defer fw.Stop(context.Background())

	var secrets [][]byte
	for _, s := range strings.Split(cfg.AppSecret, ",") {
		if s = strings.TrimSpace(s); s != "" {
			secrets = append(secrets, []byte(s))
		}
	}
	sched, err := cfg.Jobs.scheduler(st, cfg.DataDir, log)
	if err != nil {
		return err
	}
	sched.Start()
	scfg := server.Config{AppSecrets: secrets, VerifyToken: cfg.VerifyToken, MaxBody: cfg.MaxBody,
		PublicURL: publicURL(cfg), Location: cfg.Jobs.location, Processing: cfg.Jobs.processing(cfg.Domain)}
	if cfg.AccessToken != "" {
		client := &http.Client{Timeout: 30 * time.Second}
		scfg.DeleteMetaMedia = func(ctx context.Context, id string) error {
			return meta.DeleteMedia(ctx, client, cfg.GraphURL, cfg.GraphVersion, cfg.AccessToken, id)
		}
	}
	srv := server.New(scfg, st, log, metrics)

	public, err := listen(cfg.HTTPAddr, "http-addr")
	if err != nil {
		return err
	}
	internal, err := listen(cfg.InternalAddr, "internal-addr")
	if err != nil {
		public.Close()
		return err
	}
	servers := []*http.Server{newHTTPServer(srv.PublicHandler()), newHTTPServer(srv.InternalHandler())}
	errc := make(chan error, 2)
	for i, ln := range []net.Listener{public, internal} {
		go func() { errc <- servers[i].Serve(ln) }()
	}
	log.Info("pforte ready", "version", version, "public", public.Addr().String(), "internal", internal.Addr().String(),
		"data_dir", cfg.DataDir, "sqlite", store.SQLiteVersion())

	select {
	case <-ctx.Done():
		log.Info("stopping: finishing requests in flight", "timeout", cfg.ShutdownWait)
	case err := <-errc:
		log.Error("listener failed", "err", err)
	}
	// Stop accepting, let in-flight webhooks finish their commit, then close
	// the store, which drains the writer.
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownWait)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Warn("shutdown", "err", err)
		}
	}
	if err := fw.Stop(sctx); err != nil {
		log.Warn("fan-out", "err", err)
	}
	// Jobs stop before the store closes: their contexts are cancelled and
	// a running purge returns between two batches.
	if err := sched.Stop(sctx); err != nil {
		log.Warn("shutdown", "err", err)
	}
	if err := st.Close(); err != nil {
		return fmt.Errorf("closing database: %w", err)
	}
	log.Info("stopped cleanly")
	return nil
}

func listen(addr, name string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot listen on --%s (%s) %q: %w", name, envName(name), addr, err)
	}
	return ln, nil
}

// newHTTPServer sets the timeouts every listener needs against slow clients.
func newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}
