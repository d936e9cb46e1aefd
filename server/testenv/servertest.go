// Package servertest starts real Pforte gateways for tests: a SQLite file
// in a temporary directory and both listeners on loopback.
package testenv

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/store"
)

// TestdataDir returns the repository's testdata folder, where the Cloud API
// example payloads live, so tests run from a plain clone.
func TestdataDir(t testing.TB) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("servertest: go.mod not found above the test's directory")
		}
		dir = parent
	}
	return filepath.Join(dir, "testdata")
}

// Examples returns the example bodies of one kind ("webhooks", "send",
// "send/responses", "errors") by file name, sorted by name.
func Examples(t testing.TB, kind string) (names []string, bodies map[string][]byte) {
	t.Helper()
	dir := filepath.Join(TestdataDir(t), "cloudapi", kind)
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("servertest: no examples in %s: %v", dir, err)
	}
	bodies = map[string][]byte{}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".json")
		names = append(names, name)
		bodies[name] = b
	}
	sort.Strings(names)
	return names, bodies
}

// Gateway is a running Pforte for one test.
type Gateway struct {
	Dir         string
	Store       *store.Store
	Gateway     *gateway.Server
	Panel       *panel.Server
	Public      *httptest.Server
	Internal    *httptest.Server
	AppSecret   []byte
	VerifyToken string
	APIKey      string // has every scope
}

// Options adjusts a test gateway.
type Options struct {
	Gateway gateway.Config
	Panel   panel.Config
	Dir     string        // reuse a data directory (e.g. after a restart); default t.TempDir()
	Store   store.Options // store tuning; Logger and OnCommit are set by New
	Log     io.Writer     // receives every log line at debug level (default: discarded unless -v)
	// Setup, if set, runs after the store opened and before the faces are
	// built, to add dependencies (the sender, hooks) to the configuration.
	Setup func(st *store.Store, gw *gateway.Config, p *panel.Config)
}

// New starts a gateway and stops it when the test ends.
func New(t testing.TB, opts Options) *Gateway {
	t.Helper()
	ctx := context.Background()
	g := &Gateway{Dir: opts.Dir, AppSecret: []byte("test-app-secret"), VerifyToken: "test-verify-token"}
	if g.Dir == "" {
		g.Dir = t.TempDir()
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if opts.Log != nil {
		w := opts.Log
		if testing.Verbose() {
			w = io.MultiWriter(w, os.Stderr)
		}
		log = slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	metrics := gateway.NewMetrics(prometheus.NewRegistry())
	sopts := opts.Store
	sopts.Logger, sopts.OnCommit = log, metrics.ObserveCommit
	if sopts.IsStopWord == nil {
		sopts.IsStopWord = outbox.IsStopWord
	}
	st, err := store.Open(ctx, g.Dir, sopts)
	if err != nil {
		t.Fatal(err)
	}
	g.Store = st
	cfg, pcfg := opts.Gateway, opts.Panel
	if cfg.AppSecrets == nil {
		cfg.AppSecrets = [][]byte{g.AppSecret}
	} else if len(cfg.AppSecrets) > 0 {
		g.AppSecret = cfg.AppSecrets[0]
	}
	if cfg.VerifyToken == "" {
		cfg.VerifyToken = g.VerifyToken
	}
	g.VerifyToken = cfg.VerifyToken
	// The public listener's address is known before the server is built,
	// so that links Pforte hands out point at it.
	g.Public = httptest.NewUnstartedServer(nil)
	if cfg.PublicURL == "" {
		cfg.PublicURL = "http://" + g.Public.Listener.Addr().String()
	}
	if opts.Setup != nil {
		opts.Setup(st, &cfg, &pcfg)
	}
	// Wired as the command package wires them: one app-secret holder, the
	// gateway's dependencies shared with the panel, one ingest hook.
	cfg.Secrets = cloudapi.NewAppSecrets(cfg.AppSecrets)
	pcfg.Secrets = cfg.Secrets
	if pcfg.PublicURL == "" {
		pcfg.PublicURL = cfg.PublicURL
	}
	if pcfg.VerifyToken == "" {
		pcfg.VerifyToken = cfg.VerifyToken
	}
	if pcfg.Outbox == nil {
		pcfg.Outbox = cfg.Sender
	}
	if pcfg.Jobs == nil {
		pcfg.Jobs = cfg.Jobs
	}
	if pcfg.Location == nil {
		pcfg.Location = cfg.Location
	}
	if pcfg.DeleteMetaMedia == nil {
		pcfg.DeleteMetaMedia = cfg.DeleteMetaMedia
	}
	pcfg.Processing = cfg.Processing
	if pcfg.Campaigns == nil {
		pcfg.Campaigns = cfg.Campaigns
	}
	g.Panel = panel.New(pcfg, st, log)
	next := cfg.OnIngest
	cfg.OnIngest = func(d *store.Delivery, res store.IngestResult) {
		g.Panel.NotifyIngest(d, res)
		if next != nil {
			next(d, res)
		}
	}
	g.Gateway = gateway.New(cfg, st, log, metrics)
	g.Public.Config.Handler = g.Gateway.PublicHandler(g.Panel.Handler())
	g.Public.Start()
	g.Internal = httptest.NewServer(g.Gateway.InternalHandler())
	key, _, err := st.CreateAPIKey(ctx, "test", store.AllScopes())
	if err != nil {
		t.Fatal(err)
	}
	g.APIKey = key
	t.Cleanup(g.Close)
	return g
}

// Close stops the listeners and closes the store; safe to call twice.
func (g *Gateway) Close() {
	if g.Public != nil {
		g.Panel.StopStreams() // open panel event streams would hold Close
		g.Public.Close()
		g.Internal.Close()
		g.Store.Close()
		g.Public = nil
	}
}

// PostWebhook delivers body to /webhook signed with the gateway's app secret.
func (g *Gateway) PostWebhook(t testing.TB, body []byte) *http.Response {
	t.Helper()
	return g.PostWebhookSigned(t, body, cloudapi.Sign(g.AppSecret, body))
}

// ApproveTemplate delivers Meta's status webhook approving a template of
// the given category, as Meta sends it when a template is approved.
func (g *Gateway) ApproveTemplate(t testing.TB, name, lang, category string) {
	t.Helper()
	body := fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":"318824617705293","time":%d,"changes":[{"value":{"event":"APPROVED",
"message_template_id":1,"message_template_name":%q,"message_template_language":%q,"reason":"NONE","message_template_category":%q},
"field":"message_template_status_update"}]}]}`, time.Now().Unix(), name, lang, category)
	if resp := g.PostWebhook(t, []byte(body)); resp.StatusCode != http.StatusOK {
		t.Fatalf("template webhook: %d", resp.StatusCode)
	}
}

// PostWebhookSigned delivers body with the given signature header ("" for none).
func (g *Gateway) PostWebhookSigned(t testing.TB, body []byte, signature string) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, g.Public.URL+"/webhook", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	if signature != "" {
		req.Header.Set(cloudapi.SignatureHeader, signature)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// API performs an authenticated request on the internal listener and
// returns the status and body.
func (g *Gateway) API(t testing.TB, method, path string, body io.Reader) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, g.Internal.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+g.APIKey)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

// Restrict turns the erasure of the customer waID into a restriction, the
// way a legal hold (here an accounting voucher's eight years) does.
func Restrict(t testing.TB, st *store.Store, waID string) {
	t.Helper()
	ctx := context.Background()
	c, err := st.ContactByKey(ctx, waID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SetHold(ctx, store.LegalHold{ContactID: c.ID, Preset: "voucher", Reason: "Rechnung 17", CreatedBy: "test",
		Until: time.Now().AddDate(8, 0, 0).Unix()}); err != nil {
		t.Fatal(err)
	}
	res, err := st.EraseContact(ctx, waID, store.EraseRequest{Actor: store.Actor("test"), Reason: "Antrag"})
	if err != nil || res.State != store.ErasureRestricted {
		t.Fatalf("erase: %+v %v", res, err)
	}
}
