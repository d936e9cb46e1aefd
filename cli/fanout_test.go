package cli

import (
	"bytes"
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/outbox"
	"github.com/pforte/pforte/store"
)

func runCLI(t *testing.T, stdin string, args ...string) (int, string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestFanoutCLI(t *testing.T) {
	dir := t.TempDir()
	code, out, errOut := runCLI(t, "", "fanout", "add", "--data-dir", dir, "--url", "https://crm.example.com/wa?token=geheim", "--name", "crm", "--events", "messages,statuses")
	if code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(out) || !strings.Contains(errOut, "shown only now") {
		t.Fatalf("add: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "a-secret-from-stdin-123\n", "fanout", "add", "--data-dir", dir, "--url", "http://10.1.2.3:9000/hook", "--events", "other", "--secret-stdin", "--disabled")
	if code != 0 || strings.Contains(out, "a-secret-from-stdin") {
		t.Fatalf("add with stdin secret: %d %q", code, out)
	}

	// Refused input: clear message, exit code 1, nothing added.
	for _, args := range [][]string{
		{"--url", "ftp://x.example/"},
		{"--url", "https://x.example/", "--events", "message"},
		{"--url", "https://x.example/", "--secret-stdin"},
	} {
		code, _, errOut := runCLI(t, "short\n", append([]string{"fanout", "add", "--data-dir", dir}, args...)...)
		if code != 1 || errOut == "" {
			t.Errorf("add %v: %d %q", args, code, errOut)
		}
	}

	code, out, _ = runCLI(t, "", "fanout", "list", "--data-dir", dir)
	if code != 0 {
		t.Fatalf("list: %d", code)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "ID") {
		t.Fatalf("list printed %d lines:\n%s", len(lines), out)
	}
	if !strings.Contains(lines[1], "crm") || !strings.Contains(lines[1], "messages,statuses") || strings.Contains(out, "geheim") {
		t.Fatalf("list line %q (the query string must be masked)", lines[1])
	}
	if !strings.Contains(lines[2], "false") || !strings.Contains(lines[2], "other") {
		t.Fatalf("list line %q", lines[2])
	}

	// Replay: a delivery ingested an hour ago, replayed by time range.
	st, err := store.Open(context.Background(), dir, store.Options{IsStopWord: outbox.IsStopWord})
	if err != nil {
		t.Fatal(err)
	}
	_, err = st.Ingest(context.Background(), &store.Delivery{Body: []byte(`{"object":"whatsapp_business_account","entry":[]}`),
		ReceivedAt: time.Now().Add(-time.Hour), Statuses: []store.StatusUpdate{{WAMID: "wamid.X", Status: "sent", TS: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	// Live fan-out queued it already; deliver it so the replay has work.
	items, err := st.FanoutNext(context.Background(), 1, time.Now(), 10, 1<<20)
	if err != nil || len(items) != 1 {
		t.Fatalf("queued: %v %v", items, err)
	}
	if err := st.FanoutDelivered(context.Background(), items, 200, time.Now()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	code, out, errOut = runCLI(t, "", "fanout", "replay", "--data-dir", dir, "--id", "1", "--from", "2h")
	if code != 0 || out != "1 deliveries queued for subscription 1\n" {
		t.Fatalf("replay: %d %q %q", code, out, errOut)
	}
	code, out, _ = runCLI(t, "", "fanout", "replay", "--data-dir", dir, "--id", "1", "--dead-letter")
	if code != 0 || out != "0 deliveries queued for subscription 1\n" {
		t.Fatalf("replay dead letters: %d %q", code, out)
	}
	for _, args := range [][]string{
		{"--id", "1"},
		{"--id", "0", "--dead-letter"},
		{"--id", "7", "--dead-letter"},
		{"--id", "1", "--from", "last tuesday"},
		{"--id", "1", "--from", "2h", "--to", "3h"},
		{"--id", "1", "--dead-letter", "--from", "2h"},
	} {
		code, _, errOut := runCLI(t, "", append([]string{"fanout", "replay", "--data-dir", dir}, args...)...)
		if code != 1 || errOut == "" {
			t.Errorf("replay %v: %d %q", args, code, errOut)
		}
	}
	if code, _, _ := runCLI(t, "", "fanout", "frobnicate"); code != 2 {
		t.Errorf("unknown subcommand: exit %d", code)
	}
}

func TestParseWhen(t *testing.T) {
	now := time.Date(2026, 11, 27, 12, 0, 0, 0, time.UTC)
	cases := map[string]time.Time{
		"2026-11-01T08:00:00+01:00": time.Date(2026, 11, 1, 7, 0, 0, 0, time.UTC),
		"2026-11-01":                time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		"36h":                       now.Add(-36 * time.Hour),
	}
	for in, want := range cases {
		got, err := parseWhen(in, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v, want %v", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "yesterday", "-5h", "0s", "2026-13-01"} {
		if _, err := parseWhen(bad, now); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}
