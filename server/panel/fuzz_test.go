package panel

import (
	"bytes"
	"context"
	"database/sql"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/store"
	"github.com/pforte/pforte/web"
)

var liveHandler = regexp.MustCompile(`<[a-zA-Z]+(?:\s+[a-zA-Z:-]+(?:="[^"]*"|='[^']*')?)*\s+on[a-z]+=`)

// FuzzMessageView feeds arbitrary stored messages (type, payload, context,
// errors are all attacker-influenced) through the interpretation and the
// template: it must not panic, and nothing may come out as live markup.
func FuzzMessageView(f *testing.F) {
	f.Add("text", `{"body":"hi"}`, `{"forwarded":true}`, ``, "<script>alert(1)</script>")
	f.Add("location", `{"latitude":"x","longitude":1e400,"name":"<b>"}`, ``, ``, "")
	f.Add("contacts", `[{"name":{"formatted_name":"<img src=x onerror=1>"},"phones":[{"phone":"\"><svg onload=1>"}]}]`, ``, ``, "")
	f.Add("interactive", `{"type":"list_reply","list_reply":{"title":"<i>","description":"x"}}`, `{"id":"wamid.x"}`, ``, "")
	f.Add("order", `{"product_items":[{"product_retailer_id":"<a>","quantity":"2","item_price":7.99,"currency":"EUR"}]}`, ``, ``, "")
	f.Add("unsupported", `{"type":"poll_creation"}`, ``, `[{"code":131051}]`, "")
	f.Add("reaction", `{"message_id":"wamid.x","emoji":"<3"}`, ``, ``, "")
	f.Add("zzz", `null`, `[]`, `{"code":"x"}`, "")
	f.Fuzz(func(t *testing.T, typ, payload, msgCtx, errs, text string) {
		m := &store.Message{ID: 7, WAMID: "wamid.f", Direction: "inbound", Type: typ, TS: time.Now().Unix(),
			Text: sql.NullString{String: text, Valid: text != ""}, Payload: []byte(payload), Context: []byte(msgCtx), Errors: []byte(errs)}
		if strings.HasPrefix(typ, "o") {
			m.Direction, m.Status = "outbound", "failed"
		}
		if typ == "document" || typ == "image" {
			m.Media = &store.Media{Filename: text, MimeType: payload, State: "stored"}
		}
		vm := messageVM(context.Background(), 1, m)
		var buf bytes.Buffer
		if err := web.Message(vm, 1).Render(context.Background(), &buf); err != nil {
			t.Fatal(err)
		}
		// Our own icons are the only SVG the template draws.
		out := strings.ReplaceAll(buf.String(), `<svg class="icon"`, "<icon")
		for _, bad := range []string{"<script", "<img", "<svg", "<iframe", `href="javascript:`} {
			if strings.Contains(out, bad) {
				t.Fatalf("live markup %q in %q", bad, out)
			}
		}
		if h := liveHandler.FindString(out); h != "" {
			t.Fatalf("event handler attribute: %s", h)
		}
	})
}

// FuzzPHC: a stored hash is read back without panicking, and a value that
// parses carries sane costs (a tampered row cannot ask for 4 GiB).
func FuzzPHC(f *testing.F) {
	f.Add(hashPassword("x-long-enough-password"))
	f.Add("$argon2id$v=19$m=4294967295,t=1,p=1$AAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAA")
	f.Add("$argon2i$v=19$m=65536,t=3,p=4$c29tZXNhbHQ$RdescudvJCsgt3ub+b+dWRWJTmaaJObG")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		h, err := parsePHC(s)
		if err != nil {
			return
		}
		if h.memory > 1<<20 || h.time > 16 || h.threads > 16 || len(h.key) > 64 {
			t.Fatalf("accepted absurd parameters %+v", h)
		}
	})
}

// FuzzTOTPCode: only the code of the current, previous or next step is
// accepted, whatever people type.
func FuzzTOTPCode(f *testing.F) {
	f.Add("123456")
	f.Add(" 12 34 56 ")
	f.Add("12-34-56")
	f.Add("１２３４５６")
	f.Fuzz(func(t *testing.T, code string) {
		secret := []byte("12345678901234567890")
		now := time.Unix(1790000000, 0)
		step := totpMatch(secret, code, now)
		if step == 0 {
			return
		}
		cur := now.Unix() / totpStep
		if step < cur-1 || step > cur+1 || totpCode(secret, step) != normalizeCode(code) {
			t.Fatalf("code %q accepted for step %d", code, step)
		}
	})
}

// TestTOTPVectors checks RFC 6238 appendix B (SHA-1, truncated to 6 digits).
func TestTOTPVectors(t *testing.T) {
	secret := []byte("12345678901234567890")
	for _, v := range []struct {
		t    int64
		want string
	}{{59, "287082"}, {1111111109, "081804"}, {1111111111, "050471"}, {1234567890, "005924"}, {2000000000, "279037"}, {20000000000, "353130"}} {
		if got := totpCode(secret, v.t/totpStep); got != v.want {
			t.Errorf("T=%d: %s, want %s", v.t, got, v.want)
		}
	}
}

func TestPasswordHashRoundTrip(t *testing.T) {
	h := hashPassword("korrekt-pferd-batterie")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %s", h)
	}
	if !checkPassword(h, "korrekt-pferd-batterie") || checkPassword(h, "korrekt-pferd-batteriE") || checkPassword("garbage", "") {
		t.Fatal("check")
	}
	if h == hashPassword("korrekt-pferd-batterie") {
		t.Fatal("no salt")
	}
	for pw, bad := range map[string]bool{"kurz": true, "passwort1234": true, "a@b.de-a@b.de": false, "ein langer satz mit umlauten äöü": false} {
		if got := passwordProblem(pw, "x@example.de") != ""; got != bad {
			t.Errorf("passwordProblem(%q) refused=%v, want %v", pw, got, bad)
		}
	}
}

func TestThrottleBacksOff(t *testing.T) {
	th := newThrottle(throttlePolicy{limit: 3, base: time.Minute, max: 5 * time.Minute})
	now := time.Unix(1000, 0)
	for i := range 3 {
		if until := th.blocked("k", now, 0); !until.IsZero() {
			t.Fatalf("locked after %d", i)
		}
		th.fail("k", now)
	}
	if until := th.blocked("k", now, 0); until.Sub(now) != time.Minute {
		t.Fatalf("first lockout: %v", until.Sub(now))
	}
	// Each failure after a lock doubles it, up to the cap.
	for _, want := range []time.Duration{2 * time.Minute, 4 * time.Minute, 5 * time.Minute, 5 * time.Minute} {
		now = th.blocked("k", now, 0)
		th.fail("k", now)
		if until := th.blocked("k", now, 0); until.Sub(now) != want {
			t.Fatalf("lockout %v, want %v", until.Sub(now), want)
		}
		// A known-good caller waits at most its own cap.
		if until := th.blocked("k", now, 90*time.Second); until.Sub(now) != min(want, 90*time.Second) {
			t.Fatalf("capped lockout %v", until.Sub(now))
		}
	}
	th.success("k")
	if until := th.blocked("k", now, 0); !until.IsZero() {
		t.Fatal("success did not clear")
	}
	// Quiet for longer than throttleForget starts afresh.
	for range 3 {
		th.fail("q", now)
	}
	now = now.Add(throttleForget + time.Second)
	if d := th.fail("q", now); d != 0 {
		t.Fatalf("a failure after a long quiet locked for %v", d)
	}
}

func TestThrottleAddrGroupsIPv6By64(t *testing.T) {
	for in, want := range map[string]string{"203.0.113.7": "203.0.113.7", "::ffff:203.0.113.7": "203.0.113.7",
		"2001:db8:1:2:aaaa::1": "2001:db8:1:2::/64", "2001:db8:1:2:bbbb::9": "2001:db8:1:2::/64", "x": "x"} {
		if got := throttleAddr(in); got != want {
			t.Errorf("throttleAddr(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestSendBodyShapes(t *testing.T) {
	b, err := sendBody(Message{Type: "document", ToUserID: "DE.123", Text: "Angebot", ReplyTo: "wamid.q", File: &File{Name: "a.pdf"}}, "555")
	if err != nil {
		t.Fatal(err)
	}
	want := `{"context":{"message_id":"wamid.q"},"document":{"caption":"Angebot","filename":"a.pdf","id":"555"},"messaging_product":"whatsapp","recipient":"DE.123","recipient_type":"individual","type":"document"}`
	if string(b) != want {
		t.Fatalf("body\n%s\nwant\n%s", b, want)
	}
	b, _ = sendBody(Message{Type: "template", ToWaID: "49170", Template: &Template{Name: "t", Language: "de", Params: []Param{{Name: "kunde", Value: "Tom"}}}}, "")
	if !strings.Contains(string(b), `"parameter_name":"kunde"`) {
		t.Fatalf("named parameter missing: %s", b)
	}
	if _, err := sendBody(Message{Type: "text"}, ""); err == nil {
		t.Fatal("no recipient accepted")
	}
}
