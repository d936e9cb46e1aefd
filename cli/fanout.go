package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/pforte/pforte/store"
)

const fanoutUsage = `usage:
  pforte fanout list   [--data-dir D]
  pforte fanout add    --url URL [--name N] [--events messages,statuses,errors,other] [--secret-stdin]
  pforte fanout replay --id N --from TIME [--to TIME]
  pforte fanout replay --id N --dead-letter

TIME is RFC 3339 (2026-11-27T08:00:00+01:00), a date (2026-11-27, UTC),
or a duration meaning that long ago (36h).
`

// cmdFanout manages subscriptions from the shell; it works while serve runs
// (serve notices new work within a second).
func cmdFanout(ctx context.Context, args []string, env envLookup, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, fanoutUsage)
		return errUsage
	}
	switch args[0] {
	case "list":
		return fanoutList(ctx, args[1:], env, stdout)
	case "add":
		return fanoutAdd(ctx, args[1:], env, stdin, stdout, stderr)
	case "replay":
		return fanoutReplay(ctx, args[1:], env, stdout)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, fanoutUsage)
		return nil
	}
	fmt.Fprintf(stderr, "unknown fanout command %q\n%s", args[0], fanoutUsage)
	return errUsage
}

func fanoutList(ctx context.Context, args []string, env envLookup, stdout io.Writer) error {
	fs := flag.NewFlagSet("fanout list", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	subs, err := st.Subscriptions(ctx)
	if err != nil {
		return err
	}
	if len(subs) == 0 {
		fmt.Fprintln(stdout, "no subscriptions; add one with: pforte fanout add --url https://...")
		return nil
	}
	now := time.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tURL\tEVENTS\tENABLED\tPENDING\tOLDEST\tDEAD\tDELIVERED\tLAST ERROR")
	for _, s := range subs {
		q := s.Queue
		oldest := "-"
		if q.Pending > 0 {
			oldest = q.OldestAge(now).Round(time.Second).String()
		}
		lastErr := "-"
		if q.LastError != "" && q.LastErrorAt > q.LastSuccessAt {
			lastErr = fmt.Sprintf("%s (%s ago)", q.LastError, now.Sub(time.UnixMilli(q.LastErrorAt)).Round(time.Second))
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%t\t%d\t%s\t%d\t%d\t%s\n", s.ID, dash(s.Name), maskURL(s.URL), s.Events,
			s.Enabled, q.Pending, oldest, q.Dead, q.Delivered, lastErr)
	}
	return tw.Flush()
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// maskURL hides a query string, which often carries the receiver's token.
func maskURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "?"
	}
	if u.RawQuery != "" {
		u.RawQuery = "…"
	}
	return u.String()
}

func fanoutAdd(ctx context.Context, args []string, env envLookup, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fanout add", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	rawURL := fs.String("url", "", "where to forward deliveries (required)")
	name := fs.String("name", "", "what the receiver is, e.g. \"crm\"")
	events := fs.String("events", strings.Join(store.EventNames(), ","), "comma-separated event classes")
	secretStdin := fs.Bool("secret-stdin", false, "read the secret from stdin instead of generating one")
	disabled := fs.Bool("disabled", false, "create it switched off")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if err := store.CheckSubscriptionURL(*rawURL); err != nil {
		return settingError("url", *rawURL, strings.TrimPrefix(err.Error(), "url: "))
	}
	ev, err := store.ParseEvents(strings.Split(*events, ","))
	if err != nil {
		return settingError("events", *events, strings.TrimPrefix(err.Error(), "events: "))
	}
	in := store.SubscriptionInput{Name: *name, URL: *rawURL, Events: ev, Enabled: !*disabled}
	if *secretStdin {
		line, err := bufio.NewReader(io.LimitReader(stdin, 4096)).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("reading the secret from stdin: %w", err)
		}
		if in.Secret = strings.TrimRight(line, "\r\n"); len(in.Secret) < store.MinSecretLen {
			return fmt.Errorf("the secret on stdin must be at least %d characters", store.MinSecretLen)
		}
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	sub, secret, err := st.CreateSubscription(ctx, store.ActorCLI, in)
	if err != nil {
		return err
	}
	if !*secretStdin {
		fmt.Fprintln(stdout, secret)
		fmt.Fprintf(stderr, "subscription %d created for %s; the secret above is shown only now: give it to the receiver to check X-Hub-Signature-256.\n",
			sub.ID, sub.Events)
		return nil
	}
	fmt.Fprintf(stdout, "subscription %d created for %s\n", sub.ID, sub.Events)
	return nil
}

func fanoutReplay(ctx context.Context, args []string, env envLookup, stdout io.Writer) error {
	fs := flag.NewFlagSet("fanout replay", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	id := fs.Int64("id", 0, "subscription id (see pforte fanout list)")
	from := fs.String("from", "", "replay deliveries received from this time")
	to := fs.String("to", "", "… until this time (default now)")
	dead := fs.Bool("dead-letter", false, "replay the deliveries that were given up on")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if *id < 1 {
		return settingError("id", fmt.Sprint(*id), "give the subscription's id (see pforte fanout list)")
	}
	now := time.Now()
	r := store.Replay{DeadLetter: *dead}
	var err error
	if *from != "" {
		if r.From, err = parseWhen(*from, now); err != nil {
			return settingError("from", *from, err.Error())
		}
	}
	if *to != "" {
		if r.To, err = parseWhen(*to, now); err != nil {
			return settingError("to", *to, err.Error())
		}
	}
	if !*dead && *from == "" {
		return errors.New("say what to replay: --from TIME [--to TIME], or --dead-letter")
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := st.ReplayFanout(ctx, store.ActorCLI, *id, r)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no subscription %d (see pforte fanout list)", *id)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%d deliveries queued for subscription %d\n", n, *id)
	return nil
}

// parseWhen reads RFC 3339, a date (UTC midnight) or a duration ago.
func parseWhen(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d > 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, errors.New("want RFC 3339 (2026-11-27T08:00:00Z), a date (2026-11-27) or a duration ago (36h)")
}
