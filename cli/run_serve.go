package cli

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"

	"github.com/pforte/pforte/server/automation"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/fanout"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/health"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/server/tlsmgr"
	"github.com/pforte/pforte/store"
)

// node is one running "pforte serve": its parts in the order they start.
// Each start step adds what it started to stops, and shutdown stops them in
// reverse, so the store closes last, after every part that writes to it.
type node struct {
	cfg    *serveConfig
	env    envLookup
	log    *slog.Logger
	stderr io.Writer

	reg     *prometheus.Registry
	metrics *gateway.Metrics
	tls     *tlsmgr.Manager
	demo    *demoRun
	st      *store.Store
	fanout  *fanout.Worker
	client  *cloudapi.Client
	sending *sending
	replier *outbox.StopReplier
	// campaigns sends campaigns and runs the double opt-in beside the outbox.
	campaigns *campaign.Engine
	auto      *automation.Worker
	tpl       *templates.Manager
	sched     *jobs.Scheduler
	secrets   *cloudapi.AppSecrets
	gw        *gateway.Server
	panel     *panel.Server
	health    *health.Monitor
	replica   *replicaSupervisor

	listeners []*listener
	stops     []func(context.Context)

	historyKick chan struct{}
}

func cmdServe(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs, cfg := serveFlags(env)
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	cfg.Replica.given = givenFlags(fs, env)
	if err := cfg.validate(); err != nil {
		return err
	}
	n := &node{cfg: cfg, env: env, stderr: stderr, log: newLogger(stderr, cfg.LogLevel, cfg.LogFormat)}
	n.reg = prometheus.NewRegistry()
	n.metrics = gateway.NewMetrics(n.reg)
	err := n.start(ctx)
	if err == nil {
		err = n.serve(ctx)
	}
	if cerr := n.shutdown(); err == nil {
		err = cerr
	}
	if err == nil {
		n.log.Info("stopped cleanly")
	}
	return err
}

// start brings the parts up in order; on an error, shutdown stops what
// already runs.
func (n *node) start(ctx context.Context) error {
	for _, step := range []func(context.Context) error{
		n.startTLS,      // certificate files are checked before the data directory is touched
		n.openStore,     // everything below writes to it
		n.startReplica,  // the off-site copy; its stop ships the last commits before the store closes
		n.startDemo,     // the simulator stands in for Meta before anything calls it
		n.startFanout,   // forwards what is stored to the company's systems
		n.startSending,  // the one Meta client, the outbox and the media fetcher
		n.startJobs,     // retention, backup, maintenance
		n.startHistory,  // the coexistence chat history, imported quietly in the background
		n.startHealth,   // Graph reads, local checks, alarm mail
		n.buildFaces,    // the gateway and the panel
		n.bindListeners, // a port conflict is a clear error before "ready"
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

func (n *node) onStop(f func(context.Context)) { n.stops = append(n.stops, f) }

func (n *node) startDemo(context.Context) error {
	cfg := n.cfg
	if !cfg.Demo {
		if cfg.AppSecret == "" {
			n.log.Warn("no Meta app secret set: webhook deliveries are answered 503 until --app-secret (PFORTE_APP_SECRET) is given")
		}
		return nil
	}
	if cfg.AppSecret == "" {
		cfg.AppSecret = randomToken()
	}
	if cfg.VerifyToken == "" {
		cfg.VerifyToken = randomToken()
	}
	n.log.Info("demo mode: generated webhook secrets; the Cloud API simulator stands in for Meta", "verify_token", cfg.VerifyToken)
	d, err := startDemo(cfg, n.log)
	if err != nil {
		return err
	}
	n.demo = d
	// The simulator finishes what it started before the store closes.
	n.onStop(func(context.Context) { d.stop() })
	return nil
}

func (n *node) startTLS(context.Context) error {
	if !n.cfg.tlsEnabled() {
		return nil
	}
	m, err := newTLSManager(n.cfg, n.log, n.reg)
	if err != nil {
		return err
	}
	n.tls = m
	n.onStop(func(context.Context) { m.Stop() })
	return nil
}

func (n *node) openStore(ctx context.Context) error {
	st, err := store.Open(ctx, n.cfg.DataDir, store.Options{Logger: n.log, OnCommit: n.metrics.ObserveCommit, IsStopWord: outbox.IsStopWord,
		ReplicaRunning: func() bool { return n.replica.Running() }})
	if err != nil {
		return err
	}
	n.st = st
	n.onStop(func(context.Context) {
		if err := st.Close(); err != nil {
			n.log.Error("closing database", "err", err)
		}
	})
	return seedAccessToken(ctx, n.cfg, st, n.log)
}

// seedAccessToken stores the command line's access token in an empty
// database. Afterwards the panel's (sealed) value is the one source of
// truth, read on every call to Meta (accessTokens).
func seedAccessToken(ctx context.Context, cfg *serveConfig, st *store.Store, log *slog.Logger) error {
	if cfg.AccessToken == "" || cfg.Demo {
		return nil
	}
	stored, ok, err := st.Secret(ctx, store.SettingAccessToken)
	switch {
	case err != nil:
		return err
	case !ok:
		return st.SetSecret(ctx, store.SettingAccessToken, []byte(cfg.AccessToken))
	case string(stored) != cfg.AccessToken:
		log.Warn("--access-token (PFORTE_ACCESS_TOKEN) differs from the token saved in the panel; the panel's is used. Change it under Settings → Meta.")
	}
	return nil
}

func (n *node) startFanout(ctx context.Context) error {
	c := n.cfg.Fanout
	fw := fanout.New(n.st, fanout.Options{Logger: n.log, Timeout: c.Timeout, RetryBase: c.RetryBase,
		RetryMax: c.RetryMax, MaxInFlight: c.MaxInFlight, UserAgent: "Pforte-Fanout/" + version})
	n.reg.MustRegister(fw.Collector())
	fw.Start(ctx)
	n.fanout = fw
	n.onStop(func(ctx context.Context) {
		if err := fw.Stop(ctx); err != nil {
			n.log.Warn("fan-out", "err", err)
		}
	})
	return nil
}

func (n *node) startSending(ctx context.Context) error {
	// One Meta client for the whole process: the outbox, the media fetcher,
	// the proxy and erasures share it, and it asks the settings for the
	// token on every call, so a token changed in the panel applies at once.
	n.client = cloudapi.NewClientWithTokens(n.cfg.GraphURL, n.cfg.GraphVersion, accessTokens(n.st, n.cfg.AccessToken))
	tokenSet := n.cfg.AccessToken != ""
	if !tokenSet {
		var err error
		if _, tokenSet, err = n.st.Secret(ctx, store.SettingAccessToken); err != nil {
			return err
		}
	}
	snd, err := startSending(n.cfg, n.st, n.client, tokenSet, n.log, n.reg)
	if err != nil {
		return err
	}
	n.sending = snd
	n.onStop(func(context.Context) { snd.stop() })
	if snd.sender == nil {
		return nil
	}
	// Templates are listed from Meta on start, hourly (jobs), on demand
	// and after every template webhook (the gateway kicks it).
	n.tpl = templates.New(n.st, n.client, templates.Options{Logger: n.log})
	n.onStop(func(context.Context) { n.tpl.Close() })
	// Customers who write a stop word get one confirmation through the outbox.
	rctx, cancel := context.WithCancel(context.Background())
	n.replier = outbox.StartStopReplier(rctx, n.st, snd.sender, n.log.With("part", "consent"))
	n.onStop(func(context.Context) { cancel(); <-n.replier.Done() })
	// Campaigns and the double opt-in queue through the same outbox.
	ccfg, err := n.cfg.Campaign.engineConfig(n.cfg.Jobs.location)
	if err != nil {
		return err
	}
	n.campaigns = campaign.New(ccfg, n.st, snd.sender, n.log.With("part", "campaign"))
	cctx, ccancel := context.WithCancel(context.Background())
	if err := n.campaigns.Start(cctx); err != nil {
		ccancel()
		return err
	}
	n.onStop(func(context.Context) { ccancel(); n.campaigns.Wait() })
	// Automatic replies (business hours, welcome, away, waiting) read what
	// was stored after a cursor; the ingest hook only wakes them.
	actx, acancel := context.WithCancel(context.Background())
	n.auto = automation.New(n.st, snd.sender, n.log.With("part", "automation"), automation.Options{})
	n.auto.Start(actx)
	n.onStop(func(context.Context) { acancel(); <-n.auto.Done() })
	return nil
}

func (n *node) startJobs(context.Context) error {
	if n.tpl != nil {
		n.cfg.Jobs.templateSync = func(ctx context.Context) (string, error) {
			r, err := n.tpl.Sync(ctx, store.ActorSystem)
			return fmt.Sprintf("%d listed, %d new, %d deleted", r.Listed, r.Added, r.Deleted), err
		}
		if !n.cfg.Demo { // the demo syncs once its number is known (demo_seed.go)
			n.tpl.SyncSoon()
		}
	}
	sched, err := n.cfg.Jobs.scheduler(n.st, n.cfg.DataDir, n.log)
	if err != nil {
		return err
	}
	// Jobs stop before the store closes: their contexts are cancelled and
	// a running purge returns between two batches.
	sched.Start()
	n.sched = sched
	n.onStop(func(ctx context.Context) {
		if err := sched.Stop(ctx); err != nil {
			n.log.Warn("shutdown", "err", err)
		}
	})
	return nil
}

// startHistory runs the history importer until shutdown.
func (n *node) startHistory(context.Context) error {
	n.historyKick = make(chan struct{}, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	imp := &gateway.HistoryImporter{Store: n.st, Log: n.log.With("part", "history"), Kick: n.historyKick}
	go func() { defer close(done); imp.Run(ctx) }()
	n.onStop(func(context.Context) { cancel(); <-done })
	return nil
}

// onIngest is the one hook a stored delivery runs: open panels hear of
// it, the media fetcher and the stop replier look for work.
func (n *node) onIngest(d *store.Delivery, res store.IngestResult) {
	n.panel.NotifyIngest(d, res)
	if len(d.History) > 0 && n.historyKick != nil {
		select {
		case n.historyKick <- struct{}{}:
		default:
		}
	}
	if res.Events > 0 && n.health != nil {
		n.health.Kick() // an account or quality webhook may have queued alarm mail
	}
	if res.Messages == 0 {
		return
	}
	if n.sending.fetcher != nil {
		n.sending.fetcher.Kick()
	}
	if n.replier != nil {
		n.replier.Kick()
	}
	if n.campaigns != nil {
		n.campaigns.Kick()
	}
	if n.auto != nil {
		n.auto.Kick()
	}
}

func (n *node) buildFaces(ctx context.Context) error {
	cfg := n.cfg
	var given [][]byte
	for _, s := range strings.Split(cfg.AppSecret, ",") {
		if s = strings.TrimSpace(s); s != "" {
			given = append(given, []byte(s))
		}
	}
	n.secrets = cloudapi.NewAppSecrets(given)
	processing, location := cfg.Jobs.processing(cfg.Domain), cfg.Jobs.location
	processing.ReplicaActive = n.replica.replicaActive
	n.gw = gateway.New(gateway.Config{AppSecrets: given, Secrets: n.secrets, VerifyToken: cfg.VerifyToken, MaxBody: cfg.MaxBody,
		Sender: n.sending.sender, OnIngest: n.onIngest, PublicURL: publicURL(cfg), Location: location,
		Processing: processing, Jobs: n.sched, DeleteMetaMedia: n.client.EraseMedia, Campaigns: n.campaigns, Templates: n.tpl}, n.st, n.log, n.metrics)
	n.panel = panel.New(panel.Config{PublicURL: publicURL(cfg), TLS: n.tls != nil, Outbox: n.sending.sender, Campaigns: n.campaigns,
		Secrets: n.secrets, VerifyToken: cfg.VerifyToken, Location: location, Processing: processing, Jobs: n.sched,
		DeleteMetaMedia: n.client.EraseMedia, Status: &serverStatus{tls: n.tls, st: n.st, dataDir: cfg.DataDir}, Templates: n.tpl,
		Replica: replicaView(n.replica, cfg.DataDir), ReplicaSetup: n.replica.replicaSetup(), SSO: cfg.sso}, n.st, n.log)
	if n.tls != nil {
		n.panel.UseTLS(n.tls)
	}
	if !cfg.Demo { // the demo's generated secrets are not worth keeping
		if err := n.gw.LoadStoredSecrets(ctx); err != nil {
			return err
		}
	}
	if err := checkBreakGlass(ctx, n.st, cfg.sso); err != nil && !cfg.Demo {
		return err
	} else if err == nil {
		if err := n.panel.ApplyStartSSO(ctx); err != nil {
			return err
		}
	}
	if cfg.Demo {
		demoHowToStop(cfg, n.stderr)
		return demoAdmin(ctx, n.st, cfg, n.stderr)
	}
	if users, err := n.st.CountUsers(ctx); err == nil && users == 0 {
		n.log.Info("no panel user yet: open the panel to create the first admin, or run \"pforte user add\"", "url", "http://"+cfg.HTTPAddr+"/setup")
	}
	return nil
}

// publicHandler is the public listener: the gateway's routes with the
// panel beneath, behind the HTTPS middleware.
func (n *node) publicHandler() http.Handler {
	h := n.gw.PublicHandler(n.panel.Handler())
	if n.cfg.WebhookMTLS {
		h = tlsmgr.WebhookMTLS(n.cfg.WebhookMTLSCN, h)
	}
	h = tlsmgr.HSTS(h)
	if len(n.cfg.proxies) > 0 {
		h = tlsmgr.TrustProxies(n.cfg.proxies, n.cfg.ClientIPHeader, h)
	}
	return h
}

// bindListeners binds every port before announcing readiness, so that a
// port conflict is an immediate, clear error.
func (n *node) bindListeners(context.Context) error {
	add := func(addr, name string, h http.Handler, tc *tls.Config) error {
		ln, err := listen(addr, name)
		if err != nil {
			return err
		}
		hs := newHTTPServer(h, n.log)
		if tc != nil {
			hs.TLSConfig = tc
			ln = tls.NewListener(ln, tc)
		}
		// Live panel streams would hold a graceful shutdown open; end them first.
		hs.RegisterOnShutdown(n.panel.StopStreams)
		n.listeners = append(n.listeners, &listener{name: name, ln: ln, srv: hs})
		return nil
	}
	public := n.publicHandler()
	if n.tls != nil {
		if err := add(n.cfg.HTTPAddr, "http-addr", n.tls.HTTPHandler(), nil); err != nil {
			return err
		}
		if err := add(n.cfg.HTTPSAddr, "https-addr", public, n.tls.TLSConfig()); err != nil {
			return err
		}
	} else if err := add(n.cfg.HTTPAddr, "http-addr", public, nil); err != nil {
		return err
	}
	return add(n.cfg.InternalAddr, "internal-addr", n.gw.InternalHandler(), nil)
}

// serve runs the listeners until ctx ends or one fails, reloading the
// certificate files on SIGHUP.
func (n *node) serve(ctx context.Context) error {
	errc := make(chan error, len(n.listeners))
	for _, l := range n.listeners {
		go func() {
			if err := l.srv.Serve(l.ln); !errors.Is(err, http.ErrServerClosed) {
				errc <- fmt.Errorf("--%s: %w", l.name, err)
			}
		}()
	}
	// Certificates are requested once the challenge ports are served.
	if n.tls != nil {
		if err := n.tls.Start(ctx); err != nil {
			return err
		}
	}
	n.announce()
	if err := sdNotify(n.env, "READY=1\nSTATUS=serving"); err != nil {
		n.log.Warn("systemd notify failed", "err", err)
	}
	stopWatchdog := startWatchdog(n.env, n.st, n.log)
	defer stopWatchdog()
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	for {
		select {
		case <-ctx.Done():
			n.log.Info("stopping: finishing requests in flight", "timeout", n.cfg.ShutdownWait)
			return nil
		case err := <-errc:
			n.log.Error("listener failed", "err", err)
			return err
		case <-hup:
			n.reloadCertificates()
		}
	}
}

func (n *node) reloadCertificates() {
	switch {
	case n.tls == nil || n.tls.ACME():
		n.log.Info("SIGHUP: nothing to reload (certificates from ACME renew by themselves)")
	default:
		if err := n.tls.Reload(); err != nil {
			n.log.Error("SIGHUP: the certificate files are not usable; still serving the previous certificate", "err", err)
			return
		}
		n.log.Info("SIGHUP: certificate reloaded")
	}
}

// announce logs the ready line and lets the demo's customers write.
// "public" is where webhooks and the panel are served; scripts and tests
// read "public=… internal=…" from this line.
func (n *node) announce() {
	addrs := []any{"version", version, "data_dir", n.cfg.DataDir, "sqlite", store.SQLiteVersion()}
	var webhook, internal string
	for _, l := range n.listeners {
		key := map[string]string{"http-addr": "public", "https-addr": "public", "internal-addr": "internal"}[l.name]
		addr := l.ln.Addr().String()
		switch {
		case l.name == "http-addr" && n.tls != nil:
			key = "redirect"
		case l.name == "http-addr":
			webhook = "http://" + addr + "/webhook"
		case l.name == "https-addr":
			webhook = "https://" + addr + "/webhook"
		case l.name == "internal-addr":
			internal = "http://" + addr
		}
		addrs = append(addrs, key, addr)
	}
	if len(n.cfg.domains) > 0 {
		addrs = append(addrs, "domains", strings.Join(n.cfg.domains, ","))
	}
	n.log.Info("pforte ready", addrs...)
	if n.demo != nil {
		// The simulator's customers write to the public listener.
		n.demo.st = n.st
		n.demo.tpl = n.tpl
		n.demo.run(webhook, internal, n.secrets.Given()[0])
	}
}

// shutdown stops accepting, lets in-flight webhooks finish their commit,
// then stops the parts in reverse order of their start; the store closes
// last, which drains the writer.
func (n *node) shutdown() error {
	sdNotify(n.env, "STOPPING=1")
	ctx, cancel := context.WithTimeout(context.Background(), n.cfg.ShutdownWait)
	defer cancel()
	var wg sync.WaitGroup
	for _, l := range n.listeners {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := l.srv.Shutdown(ctx); err != nil {
				n.log.Warn("shutdown: requests still running at the deadline were cut off", "listener", l.name, "err", err)
				l.srv.Close()
			}
			l.ln.Close()
		}()
	}
	wg.Wait()
	for i := len(n.stops) - 1; i >= 0; i-- {
		n.stops[i](ctx)
	}
	return nil
}
