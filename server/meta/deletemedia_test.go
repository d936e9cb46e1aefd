package meta

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestDeleteMedia(t *testing.T) {
	var got []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = append(got, r.Method+" "+r.URL.Path+" "+r.Header.Get("Authorization"))
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
	if err := DeleteMedia(ctx, srv.Client(), srv.URL, "v24.0", "tok", "111"); err != nil {
		t.Fatal(err)
	}
	if err := DeleteMedia(ctx, srv.Client(), srv.URL, "v24.0", "tok", "222"); err != nil {
		t.Fatalf("already gone: %v", err)
	}
	if err := DeleteMedia(ctx, srv.Client(), srv.URL, "v24.0", "tok", "333"); err == nil {
		t.Fatal("a refused delete reported success")
	}
	if err := DeleteMedia(ctx, srv.Client(), srv.URL, "v24.0", "tok", "../me"); err == nil {
		t.Fatal("a path in the media id was sent")
	}
	if len(got) != 3 || got[0] != "DELETE /v24.0/111 Bearer tok" {
		t.Fatalf("requests: %v", got)
	}
}
