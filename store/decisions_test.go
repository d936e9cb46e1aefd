package store

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// What a data protection officer decided after a backup was taken holds
// after that backup is restored: a restriction (an erasure request held
// back by a legal hold), a new hold, a released hold and a lifted
// restriction all end in their latest state, and ids continue above the
// ones the replaced database handed out.
func TestRestoreKeepsLaterDecisions(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	dir := s.Dir()
	now := time.Now()
	people := map[string]string{"p1": "4915100000011", "p2": "4915100000012", "p3": "4915100000013", "p4": "4915100000014"}
	ids := map[string]int64{}
	for name, wa := range people {
		seed(t, s, seedMsg{WaID: wa, Name: name, WAMID: "wamid." + name, Text: "hallo", TS: now.Unix() - 60}, now)
		c, err := s.ContactByKey(ctx, wa)
		if err != nil {
			t.Fatal(err)
		}
		ids[name] = c.ID
	}
	hold := func(name, reason string) *LegalHold {
		t.Helper()
		h, err := s.SetHold(ctx, LegalHold{ContactID: ids[name], Reason: reason, CreatedBy: "user:1", Preset: "voucher"})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	erase := func(name string) {
		t.Helper()
		res, err := s.EraseContact(ctx, people[name], EraseRequest{Actor: "user:1", Reason: "Anfrage per Brief", Now: now})
		if err != nil || res.State != "restricted" {
			t.Fatalf("erase %s: %+v %v", name, res, err)
		}
	}
	// Before the backup: p1 and p4 held, p3 held and restricted.
	hold("p1", "Rechnung zqreasonone")
	h4 := hold("p4", "Rechnung zqreasonfour")
	hold("p3", "Rechnung zqreasonthree")
	erase("p3")
	backup := filepath.Join(t.TempDir(), "before.db")
	if _, err := s.Backup(ctx, backup, BackupOptions{}); err != nil {
		t.Fatal(err)
	}

	// After it: p1's erasure request makes p1 restricted, p2 is held, p3's
	// restriction is lifted, p4's hold is released.
	erase("p1")
	h2 := hold("p2", "Rechtsstreit zqreasontwo")
	if err := s.LiftRestriction(ctx, ids["p3"], "user:1", "Antrag zurückgenommen", now); err != nil {
		t.Fatal(err)
	}
	if err := s.ReleaseHold(ctx, h4.ID, "user:1", now); err != nil {
		t.Fatal(err)
	}
	seed(t, s, seedMsg{WaID: "4915100000019", Name: "late", WAMID: "wamid.late", Text: "hallo", TS: now.Unix()}, now)
	late, err := s.ContactByKey(ctx, "4915100000019")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	// The journal holds no reason in the clear.
	journal, err := os.ReadFile(filepath.Join(dir, DecisionLogFile))
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"zqreasonone", "zqreasontwo", "zqreasonthree", "zqreasonfour", "Anfrage per Brief", "4915100000011"} {
		if bytes.Contains(journal, []byte(r)) {
			t.Errorf("the journal holds %q in the clear", r)
		}
	}

	rr, err := Restore(ctx, dir, backup, RestoreOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	if rr.Decisions != 4 {
		t.Errorf("restore applied %d decisions, want 4 (restriction, hold, lift, release): %+v", rr.Decisions, rr)
	}
	s2 := openTestIn(t, dir, Options{})
	// A utility template: consent plays no part, only the restriction does.
	if err := s2.SetTemplateCategory(ctx, "versand_info", "de", "UTILITY", now); err != nil {
		t.Fatal(err)
	}
	send := func(name string) error {
		_, err := s2.EnqueueSend(ctx, OutboundSend{PhoneNumberID: "100", WaID: people[name], PairKey: "100:" + people[name],
			Type: "template", Payload: []byte(`{"name":"versand_info","language":{"code":"de"}}`),
			Body: []byte(`{"type":"template","template":{"name":"versand_info","language":{"code":"de"}}}`), Now: now})
		return err
	}
	if r, err := s2.Restricted(ctx, ids["p1"]); err != nil || !r {
		t.Errorf("p1 restricted after the restore = %v, %v; want true", r, err)
	}
	if err := send("p1"); !errors.Is(err, ErrRestricted) {
		t.Errorf("send to restricted p1 after the restore: %v, want ErrRestricted", err)
	}
	pending, err := s2.PendingErasures(ctx)
	if err != nil || len(pending) != 1 || pending[0].ContactID != ids["p1"] || pending[0].State != "restricted" {
		t.Errorf("pending erasures after the restore: %+v %v; want p1's restricted request", pending, err)
	}
	holds, err := s2.Holds(ctx, ids["p2"])
	if err != nil || len(holds) != 1 || holds[0].ID != h2.ID || !holds[0].Active(now) || holds[0].Reason != "Rechtsstreit zqreasontwo" {
		t.Errorf("p2's hold after the restore: %+v %v; want hold %d active with its reason", holds, err, h2.ID)
	}
	// p2's hold is in effect: an erasure request restricts instead of erasing.
	if res, err := s2.EraseContact(ctx, people["p2"], EraseRequest{Actor: "user:1", Reason: "x", Now: now}); err != nil || res.State != "restricted" {
		t.Errorf("erasing held p2 after the restore: %+v %v; want restricted", res, err)
	}
	if r, err := s2.Restricted(ctx, ids["p3"]); err != nil || r {
		t.Errorf("p3 restricted after the restore = %v, %v; its restriction was lifted", r, err)
	}
	if err := send("p3"); err != nil {
		t.Errorf("send to p3, whose restriction was lifted: %v", err)
	}
	holds, err = s2.Holds(ctx, ids["p4"])
	if err != nil || len(holds) != 1 || holds[0].Active(now) {
		t.Errorf("p4's hold after the restore: %+v %v; it was released", holds, err)
	}
	holds, err = s2.Holds(ctx, ids["p1"])
	if err != nil || len(holds) != 1 || !holds[0].Active(now) {
		t.Errorf("p1's hold after the restore: %+v %v", holds, err)
	}
	// The customer who wrote after the backup is gone with the restore; the
	// next one does not get their id.
	seed(t, s2, seedMsg{WaID: "4915100000020", Name: "next", WAMID: "wamid.next", Text: "hallo", TS: now.Unix()}, now)
	next, err := s2.ContactByKey(ctx, "4915100000020")
	if err != nil {
		t.Fatal(err)
	}
	if next.ID <= late.ID {
		t.Errorf("contact id %d after the restore; the replaced database had handed out up to %d", next.ID, late.ID)
	}
	// A second restore of the same backup ends in the same state.
	if err := s2.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := Restore(ctx, dir, backup, RestoreOptions{Now: now}); err != nil {
		t.Fatal(err)
	}
	s3 := openTestIn(t, dir, Options{})
	if r, _ := s3.Restricted(ctx, ids["p1"]); !r {
		t.Error("p1 not restricted after a second restore")
	}
	if r, _ := s3.Restricted(ctx, ids["p3"]); r {
		t.Error("p3 restricted after a second restore")
	}
}
