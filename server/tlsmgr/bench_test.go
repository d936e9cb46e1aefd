package tlsmgr_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"text/tabwriter"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/testenv"
)

// BenchmarkTransport compares, in one run on loopback, what TLS costs the
// gateway: full handshakes per second (no session resumption, as for a
// new client) against plain TCP connects, and signed webhook deliveries
// (each durably committed) over keep-alive HTTPS against plain HTTP.
//
//	go test -tags '...' -run '^$' -bench Transport -benchtime 3s ./server/
func BenchmarkTransport(b *testing.B) {
	g := startTLSGateway(b, testenv.Leaf{CN: "chat.pforte.test", DNSNames: []string{"chat.pforte.test"}}, nil)
	_, bodies := testenv.Examples(b, "webhooks")
	template := bodies["text"]
	wamid := firstWAMID(b, template)
	var seq atomic.Int64
	nextBody := func() []byte {
		return bytes.Replace(template, []byte(wamid), fmt.Appendf(nil, "wamid.bench%d-%d", os.Getpid(), seq.Add(1)), 1)
	}
	plainAddr := strings.TrimPrefix(g.Public.URL, "http://")

	type row struct {
		name string
		ops  float64
		per  time.Duration
	}
	var rows []row
	run := func(name string, parallel bool, op func(pb func() bool) error) {
		b.Run(name, func(b *testing.B) {
			var failed atomic.Int64
			if parallel {
				b.SetParallelism(4)
				b.RunParallel(func(pb *testing.PB) {
					if err := op(pb.Next); err != nil {
						failed.Add(1)
						b.Error(err)
					}
				})
			} else {
				n := 0
				if err := op(func() bool { n++; return n <= b.N }); err != nil {
					b.Fatal(err)
				}
			}
			ops := float64(b.N) / b.Elapsed().Seconds()
			b.ReportMetric(ops, "ops/s")
			// The function runs once per calibration round; keep the last.
			r := row{name, ops, b.Elapsed() / time.Duration(max(b.N, 1))}
			if len(rows) > 0 && rows[len(rows)-1].name == name {
				rows[len(rows)-1] = r
			} else {
				rows = append(rows, r)
			}
		})
	}

	dial := func(tlsCfg *tls.Config) func(next func() bool) error {
		return func(next func() bool) error {
			for next() {
				c, err := net.Dial("tcp", map[bool]string{true: g.addr, false: plainAddr}[tlsCfg != nil])
				if err != nil {
					return err
				}
				if tlsCfg != nil {
					tc := tls.Client(c, tlsCfg.Clone())
					if err := tc.Handshake(); err != nil {
						c.Close()
						return err
					}
				}
				c.Close()
			}
			return nil
		}
	}
	run("connect/tcp", true, dial(nil))
	run("handshake/tls1.2", true, dial(&tls.Config{ServerName: "chat.pforte.test", RootCAs: g.ca.Pool, MaxVersion: tls.VersionTLS12}))
	run("handshake/tls1.3", true, dial(&tls.Config{ServerName: "chat.pforte.test", RootCAs: g.ca.Pool, MinVersion: tls.VersionTLS13}))

	deliver := func(client *http.Client, url string) func(next func() bool) error {
		return func(next func() bool) error {
			for next() {
				body := nextBody()
				req, _ := http.NewRequest("POST", url, bytes.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign(g.AppSecret, body))
				resp, err := client.Do(req)
				if err != nil {
					return err
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					return fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			return nil
		}
	}
	plain := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	https := &http.Client{Transport: &http.Transport{
		MaxIdleConnsPerHost: 64,
		TLSClientConfig:     &tls.Config{ServerName: "chat.pforte.test", RootCAs: g.ca.Pool},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, g.addr)
		},
	}}
	run("webhook/http-keepalive", true, deliver(plain, g.Public.URL+"/webhook"))
	run("webhook/https-keepalive", true, deliver(https, "https://chat.pforte.test/webhook"))

	// The table, once per run of the parent benchmark.
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(w, "transport (loopback, 8 clients)\tper second\twall time per op\t")
	for _, r := range rows {
		fmt.Fprintf(w, "%s\t%.0f\t%s\t\n", r.name, r.ops, r.per.Round(time.Microsecond))
	}
	w.Flush()
}
