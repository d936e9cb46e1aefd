package fanout_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// received is one request a receiver got.
type received struct {
	Body      []byte
	Delivery  string // X-Pforte-Delivery
	Sequence  int64  // X-Pforte-Sequence
	Attempt   int    // X-Pforte-Attempt
	Status    int    // what the receiver answered
	Signature bool   // the signature checked out
}

// receiver is a company system written the way a third party would write a
// Meta webhook consumer from Meta's documentation, with plain net/http: it
// reads the raw body, computes HMAC-SHA256 over it with the shared secret,
// hex-encodes it, prefixes "sha256=" and compares with X-Hub-Signature-256.
type receiver struct {
	t      testing.TB
	srv    *httptest.Server
	secret string

	mu      sync.Mutex
	got     []received
	answer  func(r received) int // status to answer; default 200
	started chan struct{}        // one value when a request comes in
	begun   atomic.Int64         // requests that came in, finished or not
}

func newReceiver(t testing.TB, secret string) *receiver {
	rc := &receiver{t: t, secret: secret, started: make(chan struct{}, 1)}
	rc.srv = httptest.NewServer(http.HandlerFunc(rc.serve))
	t.Cleanup(rc.srv.Close)
	return rc
}

// validSignature is the check from Meta's "Validating payloads" section.
func validSignature(secret string, body []byte, header string) bool {
	sig, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	expected := hex.EncodeToString(mac.Sum(nil))
	return hmac.Equal([]byte(expected), []byte(sig))
}

func (rc *receiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.begun.Add(1)
	select {
	case rc.started <- struct{}{}:
	default:
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	got := received{Body: body, Delivery: r.Header.Get("X-Pforte-Delivery"),
		Signature: r.Method == http.MethodPost && validSignature(rc.secret, body, r.Header.Get("X-Hub-Signature-256"))}
	got.Sequence, _ = strconv.ParseInt(r.Header.Get("X-Pforte-Sequence"), 10, 64)
	got.Attempt, _ = strconv.Atoi(r.Header.Get("X-Pforte-Attempt"))
	rc.mu.Lock()
	answer := rc.answer
	rc.mu.Unlock()
	got.Status = http.StatusOK
	if !got.Signature {
		got.Status = http.StatusUnauthorized
	} else if answer != nil {
		got.Status = answer(got)
	}
	rc.mu.Lock()
	rc.got = append(rc.got, got)
	rc.mu.Unlock()
	w.WriteHeader(got.Status)
}

func (rc *receiver) setAnswer(f func(r received) int) {
	rc.mu.Lock()
	rc.answer = f
	rc.mu.Unlock()
}

func (rc *receiver) all() []received {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]received(nil), rc.got...)
}

// accepted returns what the receiver accepted, in arrival order.
func (rc *receiver) accepted() []received {
	var out []received
	for _, r := range rc.all() {
		if r.Status >= 200 && r.Status < 300 {
			out = append(out, r)
		}
	}
	return out
}

// waitFor polls cond until it holds; the deadline only guards against a
// hang, it does not measure speed.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
