package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/pforte/pforte/server/simulator"
)

// simulatorKeepRequests bounds the send calls a long-running simulator
// remembers, so a demo or a load test does not grow without end.
const simulatorKeepRequests = 10_000

// cmdSimulate runs the Cloud API simulator on its own: a fake Graph API
// (point a gateway's --graph-url at it) and fictional customers whose
// signed webhooks go to --target at --rate, ending with a summary table.
func cmdSimulate(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("simulate", flag.ContinueOnError)
	fs.String("data-dir", defaultDataDir(env), "unused; accepted like by every command")
	listen := fs.String("listen", "127.0.0.1:8090", `address of the fake Graph API ("" for none)`)
	target := fs.String("target", "", "the gateway's webhook URL, e.g. http://127.0.0.1:8080/webhook (empty: no customer traffic)")
	appSecret := fs.String("app-secret", "", "app secret the gateway verifies webhooks with (required with --target)")
	token := fs.String("access-token", "", "access token the fake Graph API accepts (empty: any)")
	pnid := fs.String("phone-number-id", "106540352242922", "business phone number id the simulator plays")
	rate := fs.Float64("rate", 10, "customer messages per second")
	count := fs.Int("count", 0, "stop after this many customer messages (0: use --duration)")
	duration := fs.Duration("duration", 10*time.Second, "how long customers write (0 with --count 0: keep serving the Graph API until stopped)")
	customers := fs.Int("customers", 50, "how many fictional customers write")
	kinds := fs.String("kinds", strings.Join(simulator.Kinds, ","), "message kinds customers write: text, image, document, audio, sticker, location, reaction, reply")
	statusDelay := fs.Duration("status-delay", time.Second, "time between sent, delivered and read webhooks for each send")
	window := fs.Bool("enforce-window", true, "refuse free-form sends to customers who did not write in 24 hours (error 131047), like Meta")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if *target != "" {
		if u, err := url.Parse(*target); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return settingError("target", *target, "want an absolute http(s) URL of the gateway's /webhook")
		}
		if *appSecret == "" {
			return settingError("app-secret", "", "the gateway refuses unsigned webhooks; give its app secret")
		}
	}
	if *rate <= 0 || *rate > 10000 {
		return settingError("rate", fmt.Sprint(*rate), "want more than 0 and at most 10000 per second")
	}
	var ks []string
	for _, k := range strings.Split(*kinds, ",") {
		if k = strings.TrimSpace(k); k != "" {
			switch k {
			case "text", "image", "document", "audio", "sticker", "location", "reaction", "reply":
				ks = append(ks, k)
			default:
				return settingError("kinds", *kinds, "unknown kind "+k)
			}
		}
	}
	log := newLogger(stderr, "info", "text")
	sim := simulator.New(simulator.Options{AccessToken: *token, AppSecret: []byte(*appSecret), WebhookURL: *target,
		PhoneNumberID: *pnid, StatusDelay: *statusDelay, EnforceWindow: *window, Logger: log, KeepRequests: simulatorKeepRequests})
	defer sim.Close()
	if *listen != "" {
		ln, err := listenAddr(*listen)
		if err != nil {
			return err
		}
		srv := newHTTPServer(sim.Handler(), log)
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("fake Graph API listening; start the gateway with --graph-url", "graph_url", "http://"+ln.Addr().String())
	}
	if *target == "" || (*count == 0 && *duration == 0) {
		if *listen == "" {
			return errors.New("nothing to do: give --listen, --target or both")
		}
		<-ctx.Done()
		return nil
	}
	st := sim.RunCustomers(ctx, simulator.Load{Rate: *rate, Count: *count, Duration: *duration, Customers: *customers, Kinds: ks})
	st.Table(stdout)
	if *listen != "" && ctx.Err() == nil {
		// Let status webhooks of sends made meanwhile finish.
		time.Sleep(3 * *statusDelay)
	}
	if st.Failed > 0 {
		return fmt.Errorf("%d of %d webhooks were not acknowledged with 200", st.Failed, st.Sent)
	}
	return nil
}

func listenAddr(addr string) (net.Listener, error) {
	ln, err := listen(addr, "listen")
	return ln, err
}
