package gateway_test

import (
	"archive/zip"
	"bytes"
	"context"
	"database/sql"
	"io"
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pforte/pforte/server/gateway"
	"github.com/pforte/pforte/server/privacy"
	"github.com/pforte/pforte/server/testenv"
	"github.com/pforte/pforte/store"
)

// coexistence posts one of the coexistence fixtures and insists on 200:
// whatever Meta sends, it must never be told to retry.
func postFixture(t *testing.T, g *testenv.Gateway, bodies map[string][]byte, name string) {
	t.Helper()
	b, ok := bodies[name]
	if !ok {
		t.Fatalf("no fixture %s", name)
	}
	resp := g.PostWebhook(t, b)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: status %d", name, resp.StatusCode)
	}
}

func openRO(t *testing.T, g *testenv.Gateway) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+filepath.Join(g.Dir, store.DBFile)+"?mode=ro&_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func one[T any](t *testing.T, db *sql.DB, q string, args ...any) T {
	t.Helper()
	var v T
	if err := db.QueryRow(q, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", q, err)
	}
	return v
}

func inbound(t *testing.T, g *testenv.Gateway, from, wamid, text string, ts int64) {
	t.Helper()
	body := `{"object":"whatsapp_business_account","entry":[{"id":"102290129340398","changes":[{"field":"messages","value":{
"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550783881","phone_number_id":"106540352242922"},
"contacts":[{"profile":{"name":"Kundin"},"wa_id":"` + from + `"}],
"messages":[{"from":"` + from + `","id":"` + wamid + `","timestamp":"` + itoa(ts) + `","type":"text","text":{"body":"` + text + `"}}]}}]}]}`
	if resp := g.PostWebhook(t, []byte(body)); resp.StatusCode != http.StatusOK {
		t.Fatalf("inbound: %d", resp.StatusCode)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// Echoes land as outbound messages marked as sent from the phone, in the
// customer's conversation, without opening a window or counting unread;
// an echo for a customer Pforte has never seen creates their conversation,
// and echoes without recipient or id are kept raw, all answered 200.
func TestEchoesLandAsOutboundFromThePhone(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	_, bodies := testenv.Examples(t, "coexistence")
	inbound(t, g, "4915112340001", "wamid.live1", "Wo ist mein Paket?", 1739320000)
	postFixture(t, g, bodies, "echo_text")
	postFixture(t, g, bodies, "echo_unknown_conversation")
	postFixture(t, g, bodies, "echo_edit")
	postFixture(t, g, bodies, "echo_text") // a redelivery changes nothing
	db := openRO(t, g)

	if got := one[string](t, db, "SELECT direction || '/' || coalesce(origin, '') || '/' || status FROM messages WHERE wamid = 'wamid.echo1'"); got != "outbound/phone/sent" {
		t.Errorf("echo stored as %q", got)
	}
	if n := one[int](t, db, `SELECT count(DISTINCT conversation_id) FROM messages WHERE wamid IN ('wamid.live1', 'wamid.echo1')`); n != 1 {
		t.Errorf("echo in %d conversations, want the customer's one", n)
	}
	if got := one[int64](t, db, `SELECT c.last_inbound_at FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE m.wamid = 'wamid.echo1'`); got != 1739320000 {
		t.Errorf("window moved by an echo: last_inbound_at %d", got)
	}
	if got := one[int64](t, db, `SELECT coalesce(c.last_inbound_at, 0) FROM conversations c JOIN messages m ON m.conversation_id = c.id WHERE m.wamid = 'wamid.echo2'`); got != 0 {
		t.Errorf("echo to a new customer opened a window: %d", got)
	}
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE wamid IN ('wamid.echo3')"); n != 0 {
		t.Errorf("echo without recipient stored as a message")
	}
	if n := one[int](t, db, "SELECT count(*) FROM events WHERE field = 'smb_message_echoes.unreadable'"); n != 1 {
		t.Errorf("echo without id kept %d times, want 1", n)
	}
	// The edit changed the shown text and kept the old one.
	if got := one[string](t, db, "SELECT text FROM messages WHERE wamid = 'wamid.echo1'"); got != "Ihr Paket ist zugestellt" {
		t.Errorf("edited echo shows %q", got)
	}
	if got := one[string](t, db, "SELECT text FROM message_revisions WHERE wamid = 'wamid.echo1edit'"); got != "Ihr Paket ist unterwegs" {
		t.Errorf("revision keeps %q", got)
	}
}

// A customer's edit and revoke change the message they name, in their own
// conversation only; the earlier text stays in the revisions.
func TestInboundEditAndRevoke(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	_, bodies := testenv.Examples(t, "coexistence")
	inbound(t, g, "4915112340005", "wamid.direct1", "Ich komme um 14 Uhr", 1755548000)
	inbound(t, g, "4915112340005", "wamid.direct2", "Meine IBAN ist DE00", 1755548001)
	postFixture(t, g, bodies, "edit_inbound")
	postFixture(t, g, bodies, "revoke_inbound")
	db := openRO(t, g)
	if got := one[string](t, db, "SELECT text FROM messages WHERE wamid = 'wamid.direct1'"); got != "Ich komme um 15 Uhr" {
		t.Errorf("edited: %q", got)
	}
	if got := one[bool](t, db, "SELECT text IS NULL AND revoked_at IS NOT NULL FROM messages WHERE wamid = 'wamid.direct2'"); !got {
		t.Error("revoked message still shows its text")
	}
	if n := one[int](t, db, "SELECT count(*) FROM message_revisions"); n != 2 {
		t.Errorf("%d revisions, want 2", n)
	}
}

// Group messages go to the group's conversation with the member as
// sender, never to the member's own thread, whose window stays where it
// was; lifecycle, participant and settings updates appear as events in
// it; updates for an unknown group create it, all answered 200.
func TestGroupsHaveTheirOwnConversation(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	_, bodies := testenv.Examples(t, "coexistence")
	inbound(t, g, "4915112340005", "wamid.direct1", "Hallo", 1755540000)
	for _, f := range []string{"group_create", "group_participants_add", "group_message", "group_subject", "group_unknown", "group_message"} {
		postFixture(t, g, bodies, f)
	}
	db := openRO(t, g)
	if got := one[int64](t, db, `SELECT c.last_inbound_at FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE k.wa_id = '4915112340005'`); got != 1755540000 {
		t.Errorf("a group message moved the member's window: %d", got)
	}
	if got := one[string](t, db, `SELECT k.group_id FROM messages m JOIN conversations c ON c.id = m.conversation_id JOIN contacts k ON k.id = c.contact_id WHERE m.wamid = 'wamid.group1'`); got != "Y2FwaV9ncm91cDox" {
		t.Errorf("group message in conversation of %q", got)
	}
	if got := one[string](t, db, `SELECT k.wa_id FROM messages m JOIN contacts k ON k.id = m.sender_contact_id WHERE m.wamid = 'wamid.group1'`); got != "4915112340005" {
		t.Errorf("sender %q", got)
	}
	if got := one[int64](t, db, `SELECT c.last_inbound_at FROM conversations c JOIN contacts k ON k.id = c.contact_id WHERE k.group_id = 'Y2FwaV9ncm91cDox'`); got != 1755549000 {
		t.Errorf("group window %d", got)
	}
	if got := one[string](t, db, "SELECT name FROM contacts WHERE group_id = 'Y2FwaV9ncm91cDox'"); got != "Kuechenbestellung KW 34" {
		t.Errorf("group subject %q", got)
	}
	if n := one[int](t, db, `SELECT count(*) FROM group_participants p JOIN contacts k ON k.id = p.group_contact_id WHERE k.group_id = 'Y2FwaV9ncm91cDox' AND p.left_at IS NULL`); n != 2 {
		t.Errorf("%d participants, want 2", n)
	}
	if got := one[string](t, db, `SELECT group_concat(m.type, ',') FROM (SELECT m.type FROM messages m JOIN conversations c ON c.id = m.conversation_id
		JOIN contacts k ON k.id = c.contact_id WHERE k.group_id = 'Y2FwaV9ncm91cDox' AND m.origin = 'group_event' ORDER BY m.ts) m`); got != "group_create,group_participants_add,group_settings_update" {
		t.Errorf("group events %q", got)
	}
	if n := one[int](t, db, "SELECT count(*) FROM contacts WHERE group_id = 'Y2FwaV9ncm91cDpVTktOT1dO'"); n != 1 {
		t.Error("an update for an unknown group did not create it")
	}
	if n := one[int](t, db, "SELECT count(*) FROM events WHERE field = 'group_status_update.unreadable'"); n != 1 {
		t.Error("a group update without id was not kept raw")
	}
	// The address book, its export and campaign audiences list people,
	// not the groups' stand-ins.
	ctx := context.Background()
	book, err := g.Store.ListContacts(ctx, store.ContactFilter{}, 50, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := g.Store.Contacts(ctx, "", 50, 0)
	if err != nil {
		t.Fatal(err)
	}
	var audience []string
	if _, err := g.Store.Audience(ctx, store.AudienceFilter{PhoneNumberID: "106540352242922"}, func(m store.AudienceMember) error {
		audience = append(audience, m.Name+"/"+m.WaID)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	for _, c := range book {
		if c.GroupID != "" {
			t.Errorf("address book lists group %q", c.Name)
		}
	}
	for _, c := range plain {
		if c.GroupID != "" {
			t.Errorf("contact list shows group %q", c.Name)
		}
	}
	if len(book) == 0 || len(plain) != len(book) {
		t.Errorf("address book %d, contact list %d: want the same people", len(book), len(plain))
	}
	if strings.Contains(strings.Join(audience, ","), "Kuechenbestellung") {
		t.Errorf("a group in a campaign audience: %v", audience)
	}
}

// The address book names customers Pforte knows and creates nobody.
func TestStateSyncUpdatesKnownContactsOnly(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	_, bodies := testenv.Examples(t, "coexistence")
	inbound(t, g, "4915112340001", "wamid.live1", "Hallo", 1739320000)
	postFixture(t, g, bodies, "state_sync")
	db := openRO(t, g)
	if got := one[string](t, db, "SELECT name FROM contacts WHERE wa_id = '4915112340001'"); got != "Pablo Morales" {
		t.Errorf("name %q", got)
	}
	if n := one[int](t, db, "SELECT count(*) FROM contacts WHERE wa_id = '4915100000000'"); n != 0 {
		t.Error("the address book created a contact for someone who never wrote")
	}
}

// importAll runs the importer until nothing waits.
func importAll(t *testing.T, imp *gateway.HistoryImporter) {
	t.Helper()
	for i := 0; i < 10000; i++ {
		busy, err := imp.RunOnce(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if !busy {
			return
		}
	}
	t.Fatal("history import does not end")
}

// History chunks arrive out of order and repeated: everything is imported
// once, quietly (closed conversations, nothing unread, no window), in
// resumable steps; an erased person's chats are never imported again.
func TestHistoryImportQuietIdempotentTombstonesWin(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	_, bodies := testenv.Examples(t, "coexistence")
	// 4915112340003 wrote once and was erased.
	inbound(t, g, "4915112340003", "wamid.before", "Bitte löschen Sie meine Daten", 1739000000)
	if _, err := g.Store.EraseContact(ctx, "4915112340003", store.EraseRequest{Actor: store.UserActor(1), Reason: "Art. 17"}); err != nil {
		t.Fatal(err)
	}
	postFixture(t, g, bodies, "history_chunk2")
	postFixture(t, g, bodies, "history_chunk1")
	postFixture(t, g, bodies, "history_chunk1") // repeated
	imp := &gateway.HistoryImporter{Store: g.Store, Step: 1}
	// One step, then the importer "restarts" (a new one) and resumes.
	if _, err := imp.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	importAll(t, &gateway.HistoryImporter{Store: g.Store, Step: 1})
	postFixture(t, g, bodies, "history_chunk1")
	importAll(t, imp)
	db := openRO(t, g)
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE origin = 'history'"); n != 3 {
		t.Errorf("%d history messages, want 3", n)
	}
	if n := one[int](t, db, "SELECT count(*) FROM contacts WHERE wa_id = '4915112340003'"); n != 0 {
		t.Error("an erased person came back with the history")
	}
	if got := one[string](t, db, `SELECT c.status || '/' || c.unread || '/' || coalesce(c.last_inbound_at, 0) FROM conversations c
		JOIN contacts k ON k.id = c.contact_id WHERE k.wa_id = '4915112340002'`); got != "closed/0/0" {
		t.Errorf("imported conversation %q, want closed/0/0", got)
	}
	if got := one[string](t, db, "SELECT direction || '/' || status FROM messages WHERE wamid = 'wamid.hist1'"); got != "outbound/read" {
		t.Errorf("business message from the history: %q", got)
	}
	prog, err := g.Store.HistoryImports(ctx)
	if err != nil || len(prog) != 1 {
		t.Fatalf("progress %v %v", prog, err)
	}
	if p := prog[0]; p.Chunks != 2 || p.Pending != 0 || p.Progress != 100 || p.Imported != 3 || p.Skipped != 1 {
		t.Errorf("progress %+v", p)
	}
	if n := one[int](t, db, "SELECT count(*) FROM history_chunks WHERE value IS NOT NULL"); n != 0 {
		t.Error("imported chunks still hold their messages")
	}
	// A declined sync is recorded, not an error.
	postFixture(t, g, bodies, "history_declined")
	if prog, _ := g.Store.HistoryImports(ctx); !prog[0].Declined {
		t.Errorf("declined sync not shown: %+v", prog)
	}
}

// A group member's export holds their group messages and the earlier text
// of an edited message; erasing them removes their group messages and a
// history chunk still waiting that mentions them.
func TestCoexistenceExportAndErasure(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	_, bodies := testenv.Examples(t, "coexistence")
	inbound(t, g, "4915112340005", "wamid.direct1", "Ich komme um 14 Uhr", 1755548000)
	postFixture(t, g, bodies, "edit_inbound")
	postFixture(t, g, bodies, "group_message")
	inbound(t, g, "4915112340002", "wamid.other", "Hallo", 1755548000)
	postFixture(t, g, bodies, "history_chunk1") // mentions 4915112340002, not imported yet

	c, err := g.Store.ContactByKey(ctx, "4915112340005")
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := privacy.ExportContact(ctx, g.Store, c, &buf, privacy.ExportOptions{Now: time.Now(), Actor: store.UserActor(1)}); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	var data []byte
	for _, f := range zr.File {
		if f.Name == "data.json" {
			r, _ := f.Open()
			data, _ = io.ReadAll(r)
		}
	}
	for _, want := range []string{`"wamid.group1"`, `"Ich nehme zwei Portionen"`, `"revisions":[{"kind":"edit","replaced_at":`, `"text":"Ich komme um 14 Uhr"`} {
		if !bytes.Contains(data, []byte(want)) {
			t.Errorf("export lacks %s", want)
		}
	}

	if _, err := g.Store.EraseContact(ctx, "4915112340005", store.EraseRequest{Actor: store.UserActor(1), Reason: "Art. 17"}); err != nil {
		t.Fatal(err)
	}
	if _, err := g.Store.EraseContact(ctx, "4915112340002", store.EraseRequest{Actor: store.UserActor(1), Reason: "Art. 17"}); err != nil {
		t.Fatal(err)
	}
	db := openRO(t, g)
	if n := one[int](t, db, "SELECT count(*) FROM messages WHERE wamid = 'wamid.group1'"); n != 0 {
		t.Error("an erased member's group message survived")
	}
	if n := one[int](t, db, "SELECT count(*) FROM message_revisions"); n != 0 {
		t.Error("an erased person's earlier texts survived")
	}
	if n := one[int](t, db, "SELECT count(*) FROM history_chunks WHERE value LIKE '%4915112340002%'"); n != 0 {
		t.Error("a waiting history chunk still holds an erased person")
	}
	// The chunk is kept only in its raw delivery, which mentions them.
	if n := one[int](t, db, "SELECT count(*) FROM history_chunks WHERE state = 'pending'"); n != 0 {
		t.Error("a waiting history chunk survived the erasure of someone it mentions")
	}
}

// History is forwarded only to a subscription that asks for it: "all"
// does not include it, so a sync of thousands of chunks is no storm.
func TestHistoryFanoutOnlyWhenAsked(t *testing.T) {
	g := testenv.New(t, testenv.Options{})
	ctx := context.Background()
	_, bodies := testenv.Examples(t, "coexistence")
	for _, in := range []store.SubscriptionInput{
		{Name: "all", URL: "https://crm.example.com/a", Events: store.EventsAll, Enabled: true},
		{Name: "history", URL: "https://crm.example.com/h", Events: store.EventMessages | store.EventHistory, Enabled: true},
	} {
		if _, _, err := g.Store.CreateSubscription(ctx, store.UserActor(1), in); err != nil {
			t.Fatal(err)
		}
	}
	d := gateway.ParseDelivery(bodies["history_chunk1"], time.Now())
	res, err := g.Store.Ingest(ctx, d)
	if err != nil || res.Fanout != 1 {
		t.Fatalf("history forwarded to %d subscriptions, want 1 (%v)", res.Fanout, err)
	}
	d = gateway.ParseDelivery(bodies["echo_text"], time.Now())
	if res, err := g.Store.Ingest(ctx, d); err != nil || res.Fanout != 2 {
		t.Fatalf("echo forwarded to %d subscriptions, want 2 (%v)", res.Fanout, err)
	}
	if _, err := store.ParseEvents([]string{"messages", "history"}); err != nil {
		t.Errorf("history is not a known event name: %v", err)
	}
}
