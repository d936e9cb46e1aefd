package cli

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"syscall"
	"testing"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/store"
)

// TestCampaignSurvivesSIGKILL runs a campaign in a "pforte serve" child
// that is killed with SIGKILL again and again, restarting it each time,
// until the campaign is done. At the fake Meta no recipient has more than
// one message (0 duplicates), and every recipient either got exactly one
// or is recorded "unknown" for a person to decide (the outbox's rule for a
// request that may have left when the process died): 0 lost.
func TestCampaignSurvivesSIGKILL(t *testing.T) {
	const recipients = 1200
	// Meta knows the template: the template sync at every start would
	// otherwise mark it deleted, and nothing would be sent.
	sim := simulator.New(simulator.Options{AccessToken: "tok", StatusDelay: -1,
		Templates: []simulator.Template{{ID: 7, Name: "angebot", Language: "de", Category: "MARKETING", Body: "Unser Adventsangebot: 10 % auf alles."}}})
	graph := httptest.NewServer(sim.Handler())
	defer graph.Close()
	so := sim.Options()
	dir, secret := t.TempDir(), "crash-secret"
	args := []string{"--graph-url", graph.URL, "--access-token", "tok", "--campaign-quiet-hours", "off", "--campaign-send-sundays",
		"--send-rate", "200", "--campaign-rate", "200"}

	// The customers write (so Pforte knows them) and Meta approves the template.
	c := startChild(t, dir, secret, args...)
	post := func(body []byte) {
		req, _ := http.NewRequest("POST", "http://"+c.public+"/webhook", bytes.NewReader(body))
		req.Header.Set(cloudapi.SignatureHeader, cloudapi.Sign([]byte(secret), body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("webhook: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	post([]byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"time":%d,"changes":[{"field":"message_template_status_update",
		"value":{"event":"APPROVED","message_template_id":7,"message_template_name":"angebot","message_template_language":"de","reason":"NONE",
		"message_template_category":"MARKETING"}}]}]}`, so.WABAID, time.Now().Unix())))
	for from := 0; from < recipients; from += 200 {
		var contacts, msgs bytes.Buffer
		for i := from; i < from+200; i++ {
			if i > from {
				contacts.WriteByte(',')
				msgs.WriteByte(',')
			}
			fmt.Fprintf(&contacts, `{"profile":{"name":"Kunde %d"},"wa_id":"4917%08d"}`, i, i)
			fmt.Fprintf(&msgs, `{"from":"4917%08d","id":"wamid.in.%d","timestamp":"%d","type":"text","text":{"body":"Hallo"}}`, i, i, time.Now().Unix())
		}
		post([]byte(fmt.Sprintf(`{"object":"whatsapp_business_account","entry":[{"id":%q,"changes":[{"field":"messages","value":{"messaging_product":"whatsapp",
			"metadata":{"display_phone_number":%q,"phone_number_id":%q},"contacts":[%s],"messages":[%s]}}]}]}`,
			so.WABAID, so.DisplayPhoneNumber, so.PhoneNumberID, contacts.String(), msgs.String())))
	}
	c.cmd.Process.Signal(syscall.SIGTERM)
	c.cmd.Wait()

	// Everyone opted in; the campaign is stored, to start at once.
	ctx := context.Background()
	st, err := store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range recipients {
		ct, err := st.ContactByKey(ctx, fmt.Sprintf("4917%08d", i))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := st.RecordConsent(ctx, store.ConsentRecord{ContactID: ct.ID, Purpose: store.PurposeMarketing, Action: store.OptIn,
			Source: "web_form", Evidence: "test", Actor: "test"}); err != nil {
			t.Fatal(err)
		}
	}
	camp, err := st.CreateCampaign(ctx, store.NewCampaign{Campaign: store.Campaign{Name: "Absturz", PhoneNumberID: so.PhoneNumberID,
		TemplateName: "angebot", TemplateLanguage: "de", UnsubscribeButton: -1, Audience: store.AudienceFilter{PhoneNumberID: so.PhoneNumberID},
		StartAt: time.Now().Unix(), CreatedBy: "test"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	st.Close()

	kills := 0
	for round := 0; ; round++ {
		if round > 40 {
			t.Fatal("the campaign did not finish in 40 rounds")
		}
		c := startChild(t, dir, secret, args...)
		time.Sleep(time.Duration(300+rand.IntN(900)) * time.Millisecond)
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
		kills++
		st, err := store.Open(ctx, dir, store.Options{})
		if err != nil {
			t.Fatalf("reopen after SIGKILL: %v", err)
		}
		if err := st.IntegrityCheck(ctx); err != nil {
			t.Fatal(err)
		}
		n, err := st.CampaignCounts(ctx, camp.ID)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("after kill %d: pending %d, queued %d, sent %d, failed/unknown %d", kills, n.Pending, n.Queued, n.Sent, n.Failed)
		if n.Pending == 0 && n.Queued == 0 {
			break
		}
	}
	got := map[string]int{}
	for _, r := range sim.Requests() {
		if r.Type == "template" {
			got[r.To]++
		}
	}
	st, err = store.Open(ctx, dir, store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	dup, lost, unknown := 0, 0, 0
	err = st.CampaignResults(ctx, camp.ID, func(r store.CampaignResult) error {
		switch {
		case got[r.Recipient] > 1:
			dup++
		case r.Status == "unknown":
			unknown++
		case got[r.Recipient] == 0:
			lost++
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d kills; %d recipients, %d received, %d unknown (left mid-send), %d duplicates, %d lost", kills, recipients, len(got), unknown, dup, lost)
	if dup != 0 || lost != 0 {
		t.Fatalf("%d duplicates and %d lost after %d kills", dup, lost, kills)
	}
	if kills < 3 {
		t.Fatalf("only %d kills: the campaign finished too fast to test anything", kills)
	}
}
