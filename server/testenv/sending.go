package testenv

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/campaign"
	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/mediafetch"
	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/server/panel"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/templates"
	"github.com/pforte/pforte/store"
)

// SendingGateway is a gateway whose Graph API is the Cloud API simulator,
// with the outbox worker and the media fetcher running.
type SendingGateway struct {
	*Gateway
	Sim      *simulator.Simulator
	GraphAPI *httptest.Server
	Client   *cloudapi.Client
	Sender   *outbox.Sender
	Fetcher  *mediafetch.Fetcher
	// Campaigns is the campaign engine, when SendingOptions.Campaign is set.
	Campaigns *campaign.Engine
	// Templates syncs and manages the simulator's templates.
	Templates *templates.Manager
	cancel    context.CancelFunc
	done      chan struct{}
	start     func()

	mu    sync.Mutex
	calls []GraphCall
}

// GraphCall is one request that reached the fake Graph API.
type GraphCall struct {
	Method, Path, RawQuery, Authorization string
}

// GraphCalls returns every request the Graph API received so far, to
// prove that something did (or did not) reach Meta.
func (sg *SendingGateway) GraphCalls() []GraphCall {
	sg.mu.Lock()
	defer sg.mu.Unlock()
	return append([]GraphCall(nil), sg.calls...)
}

// SendingOptions adjust NewSending.
type SendingOptions struct {
	Options
	Sender outbox.Config
	Media  mediafetch.Config
	// Sim configures the simulator; its WebhookURL and AppSecret are set
	// to the gateway's.
	Sim simulator.Options
	// NoMediaFetcher leaves inbound media pending (to test the queue itself).
	NoMediaFetcher bool
	// Paused leaves the outbox worker stopped until Start is called, so a
	// test can fill the outbox first.
	Paused bool
	// Campaign, if set, runs the campaign engine with this configuration.
	Campaign *campaign.Config
	// Templates adjusts the templates manager (its clock, debounce).
	Templates templates.Options
}

// Token is the access token the test simulator expects.
const Token = "test-access-token"

// NewSending starts the simulator and a gateway that sends through it.
func NewSending(t testing.TB, opts SendingOptions) *SendingGateway {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	sg := &SendingGateway{done: make(chan struct{})}
	if opts.Sim.AccessToken == "" {
		opts.Sim.AccessToken = Token
	}
	opts.Sim.Logger = log
	sg.Sim = simulator.New(opts.Sim)
	simHandler := sg.Sim.Handler()
	sg.GraphAPI = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sg.mu.Lock()
		if k := opts.Sim.KeepRequests; k > 0 && len(sg.calls) >= 2*k {
			// A load test keeps the newest calls only, like the simulator.
			sg.calls = append(sg.calls[:0], sg.calls[len(sg.calls)-k:]...)
		}
		sg.calls = append(sg.calls, GraphCall{r.Method, r.URL.EscapedPath(), r.URL.RawQuery, r.Header.Get("Authorization")})
		sg.mu.Unlock()
		simHandler.ServeHTTP(w, r)
	}))
	sg.Client = cloudapi.NewClient(sg.GraphAPI.URL, "v24.0", Token)
	setup := opts.Setup
	opts.Options.Setup = func(st *store.Store, cfg *gateway.Config, pcfg *panel.Config) {
		// The simulator's number is the company's, as if added under
		// Settings: the proxy relays only for known numbers.
		so := sg.Sim.Options()
		if err := st.AddBusinessNumber(context.Background(), store.Number{PhoneNumberID: so.PhoneNumberID,
			DisplayPhoneNumber: so.DisplayPhoneNumber, WABAID: so.WABAID}); err != nil {
			t.Fatal(err)
		}
		sg.Sender = outbox.New(opts.Sender, st, sg.Client, log, nil)
		sg.Fetcher = mediafetch.New(opts.Media, st, sg.Client, log, nil)
		topts := opts.Templates
		if topts.Logger == nil {
			topts.Logger = log
		}
		if topts.Debounce == 0 {
			// Template webhooks list the account again only where a test
			// asks for it: other tests count the calls that reach Meta.
			topts.Debounce = time.Hour
		}
		sg.Templates = templates.New(st, sg.Client, topts)
		cfg.Templates, pcfg.Templates = sg.Templates, sg.Templates
		cfg.Sender = sg.Sender
		if opts.Campaign != nil {
			sg.Campaigns = campaign.New(*opts.Campaign, st, sg.Sender, log)
			cfg.Campaigns = sg.Campaigns
		}
		cfg.OnIngest = func(_ *store.Delivery, res store.IngestResult) {
			if res.Messages > 0 {
				sg.Fetcher.Kick()
			}
			if sg.Campaigns != nil {
				sg.Campaigns.Kick()
			}
		}
		if setup != nil {
			setup(st, cfg, pcfg)
		}
	}
	sg.Gateway = New(t, opts.Options)
	sg.Sim.SetWebhook(sg.Public.URL+"/webhook", sg.AppSecret)
	// Every account has Meta's sample template; the tests send it.
	sg.ApproveTemplate(t, "hello_world", "en_US", "UTILITY")
	ctx, cancel := context.WithCancel(context.Background())
	sg.cancel = cancel
	sg.start = func() {
		if err := sg.Sender.Start(ctx); err != nil {
			t.Fatal(err)
		}
		if sg.Campaigns != nil {
			if err := sg.Campaigns.Start(ctx); err != nil {
				t.Fatal(err)
			}
		}
		go func() {
			defer close(sg.done)
			if sg.Campaigns != nil {
				defer sg.Campaigns.Wait()
			}
			if !opts.NoMediaFetcher {
				sg.Fetcher.Run(ctx)
			}
			sg.Sender.Wait()
		}()
	}
	if !opts.Paused {
		sg.Start()
	}
	// Runs before the gateway's own cleanup (LIFO): workers stop first.
	t.Cleanup(sg.Stop)
	return sg
}

// Start starts the workers of a gateway created with Paused.
func (sg *SendingGateway) Start() {
	if sg.start != nil {
		sg.start()
		sg.start = nil
	}
}

// Stop ends the workers and the simulator; the gateway closes with the test.
func (sg *SendingGateway) Stop() {
	if sg.cancel == nil {
		return
	}
	sg.cancel()
	if sg.start == nil {
		<-sg.done
	}
	sg.cancel = nil
	sg.Templates.Close()
	sg.Sim.Close()
	sg.GraphAPI.Close()
}

// Eventually polls cond until it holds or the timeout passes.
func Eventually(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// NewFastSending is NewSending with short retry, poll and status delays, so
// that tests of the send path do not wait on production pacing.
func NewFastSending(t testing.TB) *SendingGateway {
	return NewSending(t, SendingOptions{
		Sender: outbox.Config{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, SyncWait: 5 * time.Second},
		Media:  mediafetch.Config{BaseBackoff: 20 * time.Millisecond, MaxBackoff: 100 * time.Millisecond, Poll: 20 * time.Millisecond, MaxAttempts: 4},
		Sim:    simulator.Options{StatusDelay: 20 * time.Millisecond},
	})
}
