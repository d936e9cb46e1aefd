package store

import (
	"context"
	"testing"
	"time"
)

// A restricted contact (erasure requested under a legal hold) drops out of
// every list an agent sees, while admins' lists keep it, flagged.
func TestRestrictedContactLeavesAgentLists(t *testing.T) {
	s := openDP(t, nil)
	ctx := context.Background()
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4915100000001", Name: "Rita Gesperrt", WAMID: "wamid.r1", Text: "zqsperrwort Rechnung", TS: now.Unix() - 60}, now)
	seed(t, s, seedMsg{WaID: "4915100000002", Name: "Otto Offen", WAMID: "wamid.o1", Text: "zqsperrwort Frage", TS: now.Unix() - 30}, now)
	rita, err := s.ContactByKey(ctx, "4915100000001")
	if err != nil {
		t.Fatal(err)
	}
	ritaConv, err := s.ContactConversation(ctx, rita.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	before, _ := s.InboxCounts(ctx, 0)
	unreadBefore, _ := s.UnreadCount(ctx)

	if _, err := s.SetHold(ctx, LegalHold{ContactID: rita.ID, Reason: "Rechnung 17", CreatedBy: "user:1", CreatedAt: now.Unix(), Until: now.Add(24 * time.Hour).Unix()}); err != nil {
		t.Fatal(err)
	}
	res, err := s.EraseContact(ctx, "4915100000001", EraseRequest{Actor: "user:1", Now: now})
	if err != nil || res.State != "restricted" {
		t.Fatalf("erase: %+v %v", res, err)
	}
	if r, err := s.ConversationRestricted(ctx, ritaConv); err != nil || !r {
		t.Fatalf("ConversationRestricted = %v, %v", r, err)
	}
	if _, err := s.ConversationRestricted(ctx, 999999); err != ErrNotFound {
		t.Fatalf("unknown conversation: %v", err)
	}

	names := func(list []*ConversationSummary) map[string]bool {
		m := map[string]bool{}
		for _, cs := range list {
			m[cs.Contact.Name] = cs.Restricted
		}
		return m
	}
	all, _, err := s.Conversations(ctx, ConversationFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := names(all)["Rita Gesperrt"]; !ok || !r {
		t.Fatalf("admin inbox: %v", names(all))
	}
	if r := names(all)["Otto Offen"]; r {
		t.Fatal("an unrestricted contact is flagged")
	}
	hidden, _, err := s.Conversations(ctx, ConversationFilter{HideRestricted: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := names(hidden)["Rita Gesperrt"]; ok || len(hidden) != 1 {
		t.Fatalf("agent inbox: %v", names(hidden))
	}
	if cs, err := s.ConversationByID(ctx, ritaConv); err != nil || !cs.Restricted {
		t.Fatalf("ConversationByID: %v", err)
	}

	cl, _ := s.Contacts(ctx, "", 50, 0)
	cla, _ := s.Contacts(ctx, "", 50, 0, WithoutRestricted())
	if len(cl) != 2 || len(cla) != 1 || cla[0].Name != "Otto Offen" {
		t.Fatalf("contacts: %d all, %d for agents", len(cl), len(cla))
	}
	for _, it := range cl {
		if it.Restricted != (it.Name == "Rita Gesperrt") {
			t.Fatalf("contact %s restricted=%v", it.Name, it.Restricted)
		}
	}
	if found, _ := s.Contacts(ctx, "Rita", 50, 0, WithoutRestricted()); len(found) != 0 {
		t.Fatal("a name search finds the restricted contact for agents")
	}
	if found, _ := s.Contacts(ctx, "4915100000001", 50, 0, WithoutRestricted()); len(found) != 0 {
		t.Fatal("a number search finds the restricted contact for agents")
	}
	hits, _ := s.SearchMessages(ctx, "zqsperrwort", 10)
	hitsA, _ := s.SearchMessages(ctx, "zqsperrwort", 10, WithoutRestricted())
	if len(hits) != 2 || len(hitsA) != 1 || hitsA[0].Contact.Name != "Otto Offen" {
		t.Fatalf("search: %d all, %d for agents", len(hits), len(hitsA))
	}
	refs, _ := s.ConversationsOfWAMIDs(ctx, []string{"wamid.r1", "wamid.o1"})
	for _, r := range refs {
		if r.Restricted != (r.WAMID == "wamid.r1") {
			t.Fatalf("wamid ref %+v", r)
		}
	}

	// The counters leave it out: it is not work to do.
	after, _ := s.InboxCounts(ctx, 0)
	unreadAfter, _ := s.UnreadCount(ctx)
	if after.All != before.All-1 || after.Unassigned != before.Unassigned-1 || after.Unread != before.Unread-1 || unreadAfter != unreadBefore-1 {
		t.Fatalf("counts before %+v/%d, after %+v/%d", before, unreadBefore, after, unreadAfter)
	}

	// Once the hold ends and the erasure runs, nothing is left to hide.
	if _, err := s.ResumeErasures(ctx, now.Add(48*time.Hour)); err != nil {
		t.Fatal(err)
	}
	if cl, _ := s.Contacts(ctx, "", 50, 0); len(cl) != 1 {
		t.Fatalf("after the hold ended: %d contacts", len(cl))
	}
}

func TestSecureLinkStates(t *testing.T) {
	s := openDP(t, nil)
	ctx := context.Background()
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4915100000003", Name: "Lina", WAMID: "wamid.l1", Text: "hallo", TS: now.Unix()}, now)
	c, _ := s.ContactByKey(ctx, "4915100000003")
	conv, err := s.ContactConversation(ctx, c.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	tokOpen, _, err := s.CreateSecureLink(ctx, conv, "Bitte IBAN", "user:1", time.Hour, now)
	if err != nil {
		t.Fatal(err)
	}
	tokUsed, _, _ := s.CreateSecureLink(ctx, conv, "Bitte Ausweis", "user:1", time.Hour, now)
	if _, err := s.AnswerSecureLink(ctx, tokUsed, SecureAnswer{Text: "erledigt"}, now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.CreateSecureLink(ctx, conv, "Bitte Foto", "user:1", time.Minute, now.Add(-time.Hour)); err != nil {
		t.Fatal(err)
	}
	links, err := s.SecureLinks(ctx, conv)
	if err != nil || len(links) != 3 {
		t.Fatalf("links: %d %v", len(links), err)
	}
	got := map[string]string{}
	for _, l := range links {
		got[l.Prompt] = l.State(now)
	}
	want := map[string]string{"Bitte IBAN": "open", "Bitte Ausweis": "answered", "Bitte Foto": "expired"}
	for k, v := range want {
		if got[k] != v {
			t.Fatalf("%s: %s, want %s", k, got[k], v)
		}
	}
	if _, err := s.SecureLinkByToken(ctx, tokOpen, now); err != nil {
		t.Fatalf("the open link: %v", err)
	}
}
