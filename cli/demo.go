package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/store"
)

// demoAdminEmail is the demo's admin account.
const demoAdminEmail = "demo@pforte.example"

// demoAdmin makes sure the demo has an admin and says how to get in, on
// every start: a first look should not start with a form. The generated
// password exists only on the first start (only its hash is stored), so
// later starts name the command that sets a new one.
func demoAdmin(ctx context.Context, st *store.Store, cfg *serveConfig, stderr io.Writer) error {
	login := "http://" + cfg.HTTPAddr + "/login"
	if n, err := st.CountUsers(ctx); err != nil {
		return err
	} else if n == 0 {
		pw := generatePassword()
		_, err := st.CreateUser(ctx, store.NewUser{Email: demoAdminEmail, Name: "Demo Admin", Role: store.RoleAdmin,
			PasswordHash: panel.HashPassword(pw)}, true, store.AuditEntry{Actor: store.ActorCLI, Action: store.AuditUserCreate, Detail: `{"role":"admin","demo":true}`})
		if err == nil {
			fmt.Fprintf(stderr, "demo panel login: %s  e-mail %s  password %s (shown only now)\n", login, demoAdminEmail, pw)
			return nil
		}
		if !errors.Is(err, store.ErrExists) {
			return err
		}
	}
	fmt.Fprintf(stderr, "demo panel login: %s  e-mail %s  (forgot the password? pforte user reset-password --data-dir %s --email %s)\n",
		login, demoAdminEmail, cfg.DataDir, demoAdminEmail)
	return nil
}

// demoHowToStop tells how to end the demo and how to start it afresh.
func demoHowToStop(cfg *serveConfig, stderr io.Writer) {
	fmt.Fprintf(stderr, "demo: stop with Ctrl+C; to start afresh, delete %s\n", cfg.DataDir)
}

// demoRun is the in-process Cloud API simulator of "serve --demo": a fake
// Graph API on loopback and fictional customers who write in.
type demoRun struct {
	dataDir  string
	sim      *simulator.Simulator
	srv      *http.Server
	log      *slog.Logger
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	once     sync.Once
	graphURL string
	// st is where the demo seeds its shop (labels, canned replies, the
	// story); set by serve once the store is open.
	st *store.Store
	// tpl lists the simulator's templates once the demo number is known.
	tpl *templates.Manager
}

// startDemo starts the fake Graph API and points the gateway at it with a
// generated access token.
func startDemo(cfg *serveConfig, log *slog.Logger) (*demoRun, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("demo: simulator listener: %w", err)
	}
	token := randomToken()
	d := &demoRun{log: log, dataDir: cfg.DataDir, graphURL: "http://" + ln.Addr().String(), cancel: func() {}}
	d.sim = simulator.New(demoSimulatorOptions(token, log))
	d.srv = newHTTPServer(d.sim.Handler(), log)
	go d.srv.Serve(ln)
	cfg.GraphURL, cfg.AccessToken = d.graphURL, token
	log.Info("demo: Cloud API simulator running", "graph_url", d.graphURL)
	return d, nil
}

// run seeds the shop and lets the fictional customers write: a story at
// once so the inbox is full within seconds, then one message every few
// seconds.
func (d *demoRun) run(webhookURL, internalURL string, appSecret []byte) {
	d.sim.SetWebhook(webhookURL, appSecret)
	ctx, cancel := context.WithCancel(context.Background())
	d.cancel = cancel
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		d.seedAndWrite(ctx)
	}()
	d.log.Info("demo: send through Pforte like through Meta: after `make build`, create a key with `./pforte apikey create --data-dir " + d.dataDir + " --name demo --scopes read,send`, then POST to " +
		internalURL + "/v24.0/" + d.sim.Options().PhoneNumberID + "/messages")
}

// stop ends the customers and the simulator; safe to call twice.
func (d *demoRun) stop() {
	d.once.Do(func() {
		d.cancel()
		d.wg.Wait()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		d.srv.Shutdown(ctx)
		d.sim.Close()
	})
}
