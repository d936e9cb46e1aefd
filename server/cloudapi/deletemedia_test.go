package cloudapi

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

func TestEraseMedia(t *testing.T) {
	var mu sync.Mutex
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
		mu.Unlock()
		switch r.URL.Path {
		case "/v24.0/111":
			w.Write([]byte(`{"success":true}`))
		case "/v24.0/222":
			http.NotFound(w, r)
		default:
			http.Error(w, `{"error":{"code":100}}`, http.StatusBadRequest)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	tok := "tok"
	c := NewClientWithTokens(srv.URL, "v24.0", func(context.Context) (string, error) { return tok, nil })
	if err := c.EraseMedia(ctx, "111"); err != nil {
		t.Fatal(err)
	}
	if err := c.EraseMedia(ctx, "222"); err != nil {
		t.Fatalf("already gone: %v", err)
	}
	if err := c.EraseMedia(ctx, "333"); err == nil {
		t.Fatal("a refused delete reported success")
	}
	for _, id := range []string{"../me", "..", "1%2F..%2Fme", ""} {
		if err := c.EraseMedia(ctx, id); err == nil {
			t.Fatalf("a path in the media id %q was sent", id)
		}
	}
	// The token is asked for on every call: a rotation applies at once.
	tok = "rotated"
	if err := c.EraseMedia(ctx, "111"); err != nil {
		t.Fatal(err)
	}
	tok = ""
	if err := c.EraseMedia(ctx, "111"); !errors.Is(err, ErrNoToken) {
		t.Fatalf("without a token: %v", err)
	}
	want := []string{"DELETE /v24.0/111 Bearer tok", "DELETE /v24.0/222 Bearer tok", "DELETE /v24.0/333 Bearer tok", "DELETE /v24.0/111 Bearer rotated"}
	if len(got) != len(want) {
		t.Fatalf("requests: %v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("request %d: %q, want %q", i, got[i], want[i])
		}
	}
}
