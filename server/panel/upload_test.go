package panel_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// With the real outbox behind it, the composer refuses an image over
// Meta's 5 MB through the outbox's size rule: nothing is uploaded to
// Meta and nothing is sent.
func TestComposerRefusesLargeImageThroughTheOutbox(t *testing.T) {
	sg := testenv.NewSending(t, testenv.SendingOptions{Sim: simulator.Options{StatusDelay: -1}})
	g := sg.Gateway
	pnid := sg.Sim.Options().PhoneNumberID
	agent := addUser(t, g.Store, "agent@example.de", store.RoleAgent)
	deliver(t, g, textWebhook(pnid, "4930123456", "4917612345678", "Erika", "wamid.big1", time.Now().Unix()-60, "Hallo"))
	b := sessionFor(t, g, agent)
	conv := conversationID(t, g.Store, "4917612345678")
	who := contactField(t, g.Store, conv)[0]
	before := len(sg.GraphCalls())
	big := bytes.Repeat([]byte{0xff}, 5<<20+1)
	p := multipartPost(t, b, fmt.Sprintf("/conversations/%d/send", conv), map[string]string{"contact": who}, "foto.jpg", "image/jpeg", big)
	if p.status != http.StatusRequestEntityTooLarge || !strings.Contains(p.body, "Bilder dürfen höchstens 5 MB groß sein.") {
		t.Fatalf("image over 5 MB: %d %.300s", p.status, p.body)
	}
	// Just under the limit goes through the same path to Meta.
	p = multipartPost(t, b, fmt.Sprintf("/conversations/%d/send", conv), map[string]string{"contact": who}, "foto.jpg", "image/jpeg", big[:5<<20])
	if p.status != http.StatusSeeOther {
		t.Fatalf("image of 5 MB: %d %.300s", p.status, p.body)
	}
	var uploads int
	for _, c := range sg.GraphCalls()[before:] {
		if strings.HasSuffix(c.Path, "/media") {
			uploads++
		}
	}
	if uploads != 1 {
		t.Fatalf("%d uploads to Meta, want 1 (the 5 MB image only)", uploads)
	}
}
