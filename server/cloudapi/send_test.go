package cloudapi_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/testenv"
)

// Every documented error example parses into its code, and the retry
// decision matches the gateway's rules: only 130429, 131000, 131016,
// 131056, 131057 and 5xx are worth repeating.
func TestParseErrorExamples(t *testing.T) {
	names, bodies := testenv.Examples(t, "errors")
	transient := map[cloudapi.ErrorCode]bool{cloudapi.CodeThroughputReached: true, cloudapi.CodePairRateLimit: true}
	seen := 0
	for _, name := range names {
		e := cloudapi.ParseError(400, bodies[name])
		var want struct {
			Error struct {
				Code    cloudapi.ErrorCode `json:"code"`
				Subcode int                `json:"error_subcode"`
			} `json:"error"`
		}
		if err := json.Unmarshal(bodies[name], &want); err != nil {
			t.Fatal(err)
		}
		if e.Code != want.Error.Code || e.Subcode != want.Error.Subcode || e.FBTraceID == "" {
			t.Errorf("%s: parsed %+v, want code %d subcode %d", name, e, want.Error.Code, want.Error.Subcode)
		}
		if e.Transient() != transient[e.Code] {
			t.Errorf("%s: transient = %v", name, e.Transient())
		}
		if string(e.JSON()) != string(bodies[name]) {
			t.Errorf("%s: raw body not kept for relaying", name)
		}
		if e.Code == cloudapi.CodeAccessTokenExpired && !e.TokenExpired() {
			t.Errorf("%s: 190 not seen as an expired token", name)
		}
		seen++
	}
	if seen < 10 {
		t.Fatalf("only %d error examples", seen)
	}
	for _, tc := range []struct {
		status int
		body   string
		trans  bool
	}{
		{502, "<html>Bad Gateway</html>", true},
		{500, `{"error":{"message":"(#131000) Something went wrong","code":131000}}`, true},
		{503, `{"error":{"message":"(#131016) Service unavailable","code":131016}}`, true},
		{400, `{"error":{"message":"(#131057) Account in maintenance mode","code":131057}}`, true},
		{400, `{"error":{"message":"(#131026) Message undeliverable","code":131026}}`, false},
		{400, `{"error":{"message":"(#132015) Template paused","code":132015}}`, false},
		{400, "not json", false},
		{429, "", true},
	} {
		if got := cloudapi.ParseError(tc.status, []byte(tc.body)).Transient(); got != tc.trans {
			t.Errorf("%d %q: transient = %v, want %v", tc.status, tc.body, got, tc.trans)
		}
	}
}

// Every example send body is accepted, with the recipient and text read
// the way the outbox needs them.
func TestParseSendExamples(t *testing.T) {
	names, bodies := testenv.Examples(t, "send")
	for _, name := range names {
		r, gerr := cloudapi.ParseSend(bodies[name])
		if gerr != nil {
			t.Errorf("%s: refused: %s", name, gerr.JSON())
			continue
		}
		switch {
		case strings.HasPrefix(name, "mark_read"), strings.HasPrefix(name, "typing"):
			if !r.IsReadReceipt() || r.MessageID == "" {
				t.Errorf("%s: not a read receipt", name)
			}
			continue
		case name == "text_to_bsuid_recipient":
			if r.PairKey() != "US.13491208655302741918" {
				t.Errorf("%s: pair key %q", name, r.PairKey())
			}
		default:
			if r.PairKey() == "" || strings.ContainsAny(r.PairKey(), "+ ") {
				t.Errorf("%s: pair key %q", name, r.PairKey())
			}
		}
		if len(r.Payload) == 0 {
			t.Errorf("%s: no %s payload", name, r.Type)
		}
		if r.IsTemplate() != strings.HasPrefix(name, "template") {
			t.Errorf("%s: template = %v", name, r.IsTemplate())
		}
	}
	r, _ := cloudapi.ParseSend(bodies["image_by_id"])
	if id, _ := r.MediaRef(); id != "1603884127745210" {
		t.Errorf("media id %q", id)
	}
	if txt, ok := r.Text(); !ok || !strings.HasPrefix(txt, "Here") {
		t.Errorf("caption %q", txt)
	}
}

func TestParseSendRefusesBadBodies(t *testing.T) {
	for _, body := range []string{
		``, `[]`, `{`, `{"to":"+1555","type":"text","text":{"body":"x"}}`,
		`{"messaging_product":"whatsapp","type":"text","text":{"body":"x"}}`,
		`{"messaging_product":"whatsapp","to":"+1555","type":"image"}`,
		`{"messaging_product":"whatsapp","to":"+1555","type":"text","text":{"body":""}}`,
		`{"messaging_product":"whatsapp","to":"+1555","type":"text","text":{"body":"` + strings.Repeat("x", 4097) + `"}}`,
		`{"messaging_product":"whatsapp","status":"read"}`,
		`{"messaging_product":"whatsapp","to":"+1555","text":{"body":"x"},"context":{}}`,
	} {
		if _, gerr := cloudapi.ParseSend([]byte(body)); gerr == nil || gerr.Code != cloudapi.CodeInvalidParameter || gerr.HTTPStatus != 400 || gerr.Details() == "" {
			t.Errorf("%.60q: want a Graph error 100 with details, got %v", body, gerr)
		}
	}
}

func FuzzParseSend(f *testing.F) {
	_, bodies := testenv.Examples(f, "send")
	for _, b := range bodies {
		f.Add(b)
	}
	f.Add([]byte(`{"messaging_product":"whatsapp","to":"x","type":"text","text":null}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		r, gerr := cloudapi.ParseSend(body)
		if (r == nil) == (gerr == nil) {
			t.Fatalf("want exactly one of request and error")
		}
		if gerr != nil {
			if !json.Valid(gerr.JSON()) || gerr.Code != cloudapi.CodeInvalidParameter {
				t.Fatalf("bad error %s", gerr.JSON())
			}
			return
		}
		if !r.IsReadReceipt() && (r.PairKey() == "" || len(r.Payload) == 0) {
			t.Fatalf("accepted without recipient or payload: %q", body)
		}
		r.Text()
		r.MediaRef()
	})
}

func FuzzParseError(f *testing.F) {
	_, bodies := testenv.Examples(f, "errors")
	for _, b := range bodies {
		f.Add(400, b)
	}
	f.Add(502, []byte("<html>"))
	f.Fuzz(func(t *testing.T, status int, body []byte) {
		e := cloudapi.ParseError(status, body)
		if e == nil || e.HTTPStatus != status {
			t.Fatal("no error")
		}
		e.Transient()
		if !json.Valid(e.JSON()) {
			t.Fatalf("error body not JSON: %q", e.JSON())
		}
		if !json.Valid(e.Object()) {
			t.Fatalf("error object not JSON: %q", e.Object())
		}
	})
}

// A request Meta may have received (connection lost after it was
// written) is reported as uncertain; one that never left is not.
func TestClientUncertainOutcome(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				// Read the whole request, then hang up without answering.
				req, err := http.ReadRequest(bufio.NewReader(c))
				if err == nil {
					io.Copy(io.Discard, req.Body)
				}
				c.Close()
			}()
		}
	}()
	c := cloudapi.NewClient("http://"+ln.Addr().String(), "v24.0", "tok")
	_, _, err = c.Send(context.Background(), "1", []byte(`{"messaging_product":"whatsapp"}`))
	if !cloudapi.IsUncertain(err) {
		t.Fatalf("hang-up after the request: want uncertain, got %v", err)
	}

	closed, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := closed.Addr().String()
	closed.Close()
	_, _, err = cloudapi.NewClient("http://"+addr, "v24.0", "tok").Send(context.Background(), "1", []byte(`{}`))
	if err == nil || cloudapi.IsUncertain(err) {
		t.Fatalf("connection refused: want a certain failure, got %v", err)
	}

	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(300 * time.Millisecond)
	}))
	defer slow.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, _, err = cloudapi.NewClient(slow.URL, "v24.0", "tok").Send(ctx, "1", []byte(`{}`))
	if !cloudapi.IsUncertain(err) || !errors.Is(err, cloudapi.ErrUncertain) {
		t.Fatalf("timeout after writing: want uncertain, got %v", err)
	}
}

// Graph errors come back typed with Meta's body intact; the token is sent
// as a bearer header.
func TestClientSendsTokenAndTypesErrors(t *testing.T) {
	_, errs := testenv.Examples(t, "errors")
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer secret-token" || r.URL.Path != "/v24.0/123/messages" {
			w.WriteHeader(500)
			return
		}
		w.WriteHeader(400)
		w.Write(errs["error_131047_reengagement"])
	}))
	defer srv.Close()
	_, resp, err := cloudapi.NewClient(srv.URL, "v24.0", "secret-token").Send(context.Background(), "123", []byte(`{}`))
	var gerr *cloudapi.Error
	if !errors.As(err, &gerr) || gerr.Code != cloudapi.CodeReEngagement || resp == nil || string(resp.Body) != string(errs["error_131047_reengagement"]) {
		t.Fatalf("got %v", err)
	}
}
