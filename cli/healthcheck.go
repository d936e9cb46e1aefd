package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"time"
)

// cmdHealthcheck asks the running gateway's internal listener for
// /healthz: the container image's HEALTHCHECK, which has no curl.
func cmdHealthcheck(ctx context.Context, args []string, env envLookup, stdout io.Writer) error {
	fs := flag.NewFlagSet("healthcheck", flag.ContinueOnError)
	addr := fs.String("internal-addr", "127.0.0.1:8081", "internal listener of the running gateway")
	timeout := fs.Duration("timeout", 3*time.Second, "how long to wait for the answer")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if err := checkAddr("internal-addr", *addr); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", "http://"+dialAddr(*addr)+"/healthz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("unhealthy: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("unhealthy: /healthz answered %d", resp.StatusCode)
	}
	fmt.Fprintln(stdout, "ok")
	return nil
}
