package gateway_test

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

func TestSubscriptionsAPI(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	code, body := g.API(t, http.MethodPost, "/api/v1/subscriptions", strings.NewReader(`{"url":"https://crm.example.com/wa?token=abc","name":"CRM","events":["messages","statuses"]}`))
	if code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	var created gateway.SubscriptionJSON
	if err := json.Unmarshal(body, &created); err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(created.Secret) {
		t.Fatalf("generated secret %q", created.Secret)
	}
	if created.Name != "CRM" || !created.Enabled || strings.Join(created.Events, ",") != "messages,statuses" || created.Queue.Pending != 0 {
		t.Fatalf("created %+v", created)
	}
	// Reads never show the secret again.
	for _, path := range []string{"/api/v1/subscriptions", "/api/v1/subscriptions/1"} {
		code, body := g.API(t, http.MethodGet, path, nil)
		if code != http.StatusOK || strings.Contains(string(body), created.Secret) || strings.Contains(string(body), `"secret"`) {
			t.Fatalf("GET %s: %d %s", path, code, body)
		}
	}
	code, body = g.API(t, http.MethodPatch, "/api/v1/subscriptions/1", strings.NewReader(`{"events":["other"],"enabled":false,"secret":"a-new-secret-of-enough-length"}`))
	if code != http.StatusOK {
		t.Fatalf("patch: %d %s", code, body)
	}
	var patched gateway.SubscriptionJSON
	json.Unmarshal(body, &patched)
	if patched.Enabled || strings.Join(patched.Events, ",") != "other" || patched.Name != "CRM" || patched.Secret != "" {
		t.Fatalf("patched %+v", patched)
	}
	// The secret reaches the worker's view of the queue.
	g.Store.UpdateSubscription(context.Background(), "test", 1, store.SubscriptionPatch{Enabled: ptr(true)})
	g.PostWebhook(t, []byte(`{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"account_update","value":{}}]}]}`))
	head, err := g.Store.FanoutHead(context.Background(), 1, time.Now())
	if err != nil || string(head.Secret) != "a-new-secret-of-enough-length" {
		t.Fatalf("head %+v, %v", head, err)
	}
	// Nothing secret in the audit trail.
	log, _ := g.Store.AuditLog(context.Background(), 0, 50)
	actions := map[store.AuditAction]bool{}
	for _, e := range log {
		actions[e.Action] = true
		if strings.Contains(e.Detail, "a-new-secret") || strings.Contains(e.Detail, created.Secret) || !strings.HasPrefix(e.Actor.String(), "apikey:") && e.Actor != "test" {
			t.Fatalf("audit entry %+v", e)
		}
	}
	if !actions["subscription.create"] || !actions["subscription.update"] {
		t.Fatalf("audit actions %v", actions)
	}
	if code, body := g.API(t, http.MethodDelete, "/api/v1/subscriptions/1", nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d %s", code, body)
	}
	for _, m := range []string{http.MethodGet, http.MethodDelete} {
		if code, _ := g.API(t, m, "/api/v1/subscriptions/1", nil); code != http.StatusNotFound {
			t.Fatalf("%s after delete: %d", m, code)
		}
	}
	if code, _ := g.API(t, http.MethodPost, "/api/v1/subscriptions/1/replay", strings.NewReader(`{"dead_letter":true}`)); code != http.StatusNotFound {
		t.Fatalf("replay of a deleted subscription: %d", code)
	}
}

func ptr[T any](v T) *T { return &v }

func TestSubscriptionsAPIRefusesBadInput(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	if code, body := g.API(t, http.MethodPost, "/api/v1/subscriptions", strings.NewReader(`{"url":"http://10.0.0.5/hook","secret":"sixteen-chars-ok"}`)); code != http.StatusCreated {
		t.Fatalf("create: %d %s", code, body)
	}
	before, _ := g.Store.Subscription(context.Background(), 1)
	creates := []string{
		``,
		`{}`,
		`{"url":""}`,
		`{"url":"ftp://x.example/"}`,
		`{"url":"https://u:p@x.example/"}`,
		`{"url":"https://x.example/","events":[]}`,
		`{"url":"https://x.example/","events":["message"]}`,
		`{"url":"https://x.example/","secret":"short"}`,
		`{"url":"https://x.example/","colour":"blue"}`,
		`{"url":"https://x.example/"} {"url":"https://y.example/"}`,
		`{"url":"https://x.example/","enabled":"yes"}`,
		`[]`,
		`{"url":"https://x.example/","name":"` + strings.Repeat("n", 300) + `"}`,
	}
	for _, b := range creates {
		code, body := g.API(t, http.MethodPost, "/api/v1/subscriptions", strings.NewReader(b))
		if code != http.StatusBadRequest {
			t.Errorf("POST %.60q: %d %s", b, code, body)
		}
		var e gateway.APIError
		if json.Unmarshal(body, &e) != nil || e.Error.Message == "" {
			t.Errorf("POST %.60q: error body %s", b, body)
		}
	}
	patches := []string{`{}`, `{"url":"nope"}`, `{"events":["all"]}`, `{"secret":"x"}`, `{"id":5}`}
	for _, b := range patches {
		if code, body := g.API(t, http.MethodPatch, "/api/v1/subscriptions/1", strings.NewReader(b)); code != http.StatusBadRequest {
			t.Errorf("PATCH %q: %d %s", b, code, body)
		}
	}
	if code, _ := g.API(t, http.MethodPatch, "/api/v1/subscriptions/abc", strings.NewReader(`{"enabled":false}`)); code != http.StatusNotFound {
		t.Errorf("PATCH of a non-numeric id: %d", code)
	}
	if code, _ := g.API(t, http.MethodPatch, "/api/v1/subscriptions/42", strings.NewReader(`{"enabled":false}`)); code != http.StatusNotFound {
		t.Errorf("PATCH of a missing id: %d", code)
	}
	subs, _ := g.Store.Subscriptions(context.Background())
	if len(subs) != 1 || subs[0].UpdatedAt != before.UpdatedAt || subs[0].URL != before.URL {
		t.Fatalf("refused requests changed the subscriptions: %+v", subs)
	}
	if code, _ := g.API(t, http.MethodPost, "/api/v1/subscriptions", strings.NewReader(`{"url":"https://x.example/","name":"`+strings.Repeat("n", 70000)+`"}`)); code != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: %d", code)
	}
}

func FuzzParseSubscriptionRequest(f *testing.F) {
	for _, s := range []string{
		`{"url":"https://crm.example.com/hook"}`,
		`{"url":"http://10.0.0.1:8080/x?y=1","secret":"0123456789abcdef","events":["messages","other"],"enabled":false,"name":"n"}`,
		`{"events":["statuses"]}`, `{}`, `{"url":null}`, `{"url":"https://x/"}{}`, `{"secret":"s"}`, `null`, `[`, `{"events":null}`,
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, body []byte, patch bool) {
		p, err := gateway.ParseSubscriptionRequest(body, patch)
		if err != nil {
			return
		}
		if !patch && (p.URL == nil || store.CheckSubscriptionURL(*p.URL) != nil) {
			t.Fatalf("create accepted without a valid url: %q", body)
		}
		if patch && p == (store.SubscriptionPatch{}) {
			t.Fatalf("empty patch accepted: %q", body)
		}
		if p.Events != nil && (*p.Events == 0 || *p.Events&^store.EventsAll != 0) {
			t.Fatalf("events %v accepted from %q", *p.Events, body)
		}
		if p.Secret != nil && len(*p.Secret) < store.MinSecretLen {
			t.Fatalf("short secret accepted from %q", body)
		}
	})
}

func FuzzParseReplayRequest(f *testing.F) {
	for _, s := range []string{`{"dead_letter":true}`, `{"from":"2026-11-01T00:00:00Z"}`, `{"from":"2026-11-01T00:00:00Z","to":"2026-11-02T00:00:00+01:00"}`,
		`{"from":"2026-11-02T00:00:00Z","to":"2026-11-01T00:00:00Z"}`, `{}`, `{"dead_letter":true,"to":"2026-11-01T00:00:00Z"}`, `{"from":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		r, err := gateway.ParseReplayRequest(body)
		if err != nil {
			return
		}
		if r.DeadLetter == !r.From.IsZero() && r.DeadLetter {
			t.Fatalf("both dead letters and a range accepted: %q", body)
		}
		if !r.DeadLetter && r.From.IsZero() {
			t.Fatalf("range without a start accepted: %q", body)
		}
		if !r.To.IsZero() && !r.From.Before(r.To) {
			t.Fatalf("empty range accepted: %q", body)
		}
	})
}
