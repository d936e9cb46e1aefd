package panel_test

import (
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/pforte/pforte/server/simulator"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// signalsOf counts what Meta (the simulator) got: read receipts by message
// and typing indicators.
func signalsOf(sim *simulator.Simulator) (reads []string, typing int) {
	for _, r := range sim.ReadReceipts() {
		if r.Type == "typing" {
			typing++
		} else {
			reads = append(reads, r.MessageID)
		}
	}
	return reads, typing
}

// Opening a conversation with unread messages marks them read at Meta
// once; while an agent types, the typing indicator goes out at most every
// 20 s; with the number's switches off, neither is sent.
func TestReadReceiptsAndTypingFollowTheNumbersSwitches(t *testing.T) {
	sg := testenv.NewFastSending(t)
	so := sg.Sim.Options()
	addUser(t, sg.Store, "agent@example.de", store.RoleAgent)
	addUser(t, sg.Store, "admin@example.de", store.RoleAdmin)
	b := newBrowser(t, sg.Public.URL)
	b.login("agent@example.de")
	var mu sync.Mutex
	now := time.Now()
	sg.Panel.SetClock(func() time.Time { mu.Lock(); defer mu.Unlock(); return now })
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }

	deliver(t, sg.Gateway, textWebhook(so.PhoneNumberID, so.DisplayPhoneNumber, "4915112345001", "Lena", "wamid.rr1", time.Now().Unix()-60, "Hallo"))
	deliver(t, sg.Gateway, textWebhook(so.PhoneNumberID, so.DisplayPhoneNumber, "4915112345001", "Lena", "wamid.rr2", time.Now().Unix()-30, "Sind Sie da?"))
	conv := conversationID(t, sg.Store, "4915112345001")
	path := fmt.Sprintf("/conversations/%d", conv)
	if p := b.get(path); p.status != http.StatusOK {
		t.Fatalf("open: %d", p.status)
	}
	sg.Panel.WaitSignals()
	if reads, _ := signalsOf(sg.Sim); len(reads) != 1 || reads[0] != "wamid.rr2" {
		t.Fatalf("read receipts %v, want one for the newest message", reads)
	}
	// Opening it again (nothing unread) sends nothing more.
	b.get(path)
	sg.Panel.WaitSignals()
	if reads, _ := signalsOf(sg.Sim); len(reads) != 1 {
		t.Fatalf("read receipts after reopening: %v", reads)
	}

	typingPath := path + "/typing"
	for i := 0; i < 3; i++ {
		if p := b.post(typingPath, url.Values{}); p.status != http.StatusNoContent {
			t.Fatalf("typing: %d %s", p.status, p.body)
		}
	}
	sg.Panel.WaitSignals()
	if _, typing := signalsOf(sg.Sim); typing != 1 {
		t.Fatalf("%d typing indicators within 20 s, want 1", typing)
	}
	advance(21 * time.Second)
	b.post(typingPath, url.Values{})
	sg.Panel.WaitSignals()
	if _, typing := signalsOf(sg.Sim); typing != 2 {
		t.Fatalf("%d typing indicators after 21 s, want 2", typing)
	}

	// The business switches both off.
	admin := newBrowser(t, sg.Public.URL)
	admin.login("admin@example.de")
	if p := admin.post("/settings/numbers/signals", url.Values{"phone_number_id": {so.PhoneNumberID}}); p.status >= 400 {
		t.Fatalf("switch off: %d", p.status)
	}
	if p := admin.post("/settings/numbers/signals", url.Values{"phone_number_id": {"12ab"}}); p.status != http.StatusBadRequest {
		t.Errorf("bad number id: %d", p.status)
	}
	deliver(t, sg.Gateway, textWebhook(so.PhoneNumberID, so.DisplayPhoneNumber, "4915112345001", "Lena", "wamid.rr3", time.Now().Unix(), "Hallo?"))
	b.get(path)
	advance(time.Minute)
	b.post(typingPath, url.Values{})
	sg.Panel.WaitSignals()
	if reads, typing := signalsOf(sg.Sim); len(reads) != 1 || typing != 2 {
		t.Fatalf("sent with the switches off: reads %v, typing %d", reads, typing)
	}
	if p := admin.get("/settings"); p.status != http.StatusOK {
		t.Fatalf("settings: %d", p.status)
	}
	entries, err := sg.Store.AuditLog(t.Context(), 0, 50)
	n := 0
	for _, e := range entries {
		if e.Action == store.AuditNumberSignals {
			n++
		}
	}
	if err != nil || n != 1 {
		t.Errorf("audit: %d entries of the switch, %v", n, err)
	}
}
