package store

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSecureLinkAnswerLandsInConversationOnce(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	now := time.Now()
	seed(t, s, seedMsg{WaID: "4915112345678", WAMID: "wamid.q", Text: "Erstattung?", TS: now.Unix()}, now)
	var conv int64
	s.rdb.QueryRow("SELECT id FROM conversations").Scan(&conv)
	token, l, err := s.CreateSecureLink(ctx, conv, "Bitte IBAN angeben", "user:1", time.Hour, now)
	if err == nil && (l.ExpiresAt != now.Add(time.Hour).Unix() || l.ConversationID != conv) {
		t.Fatalf("link: %+v", l)
	}
	if err != nil {
		t.Fatal(err)
	}
	if n := count(t, s, "SELECT count(*) FROM secure_links WHERE token_hash = ?", []byte(token)); n != 0 {
		t.Fatal("the token is stored in the clear")
	}
	if _, err := s.SecureLinkByToken(ctx, token, now); err != nil {
		t.Fatal(err)
	}
	m, err := s.AnswerSecureLink(ctx, token, SecureAnswer{Text: "DE02120300000000202051", File: strings.NewReader("ausweis-bytes"), FileName: "../ausweis.pdf", MimeType: "application/pdf"}, now)
	if err != nil {
		t.Fatal(err)
	}
	if m.Type != "secure_answer" || m.Direction != "inbound" || m.ConversationID != conv || m.Media == nil || m.Media.Filename != "ausweis.pdf" || m.Media.State != "stored" {
		t.Fatalf("answer: %+v %+v", m, m.Media)
	}
	if b, err := os.ReadFile(filepath.Join(s.MediaDir(), m.Media.Path)); err != nil || string(b) != "ausweis-bytes" {
		t.Fatalf("stored file: %q %v", b, err)
	}
	// One time only; expired and unknown links look the same.
	if _, err := s.AnswerSecureLink(ctx, token, SecureAnswer{Text: "again"}, now); !errors.Is(err, ErrLinkGone) {
		t.Fatalf("second answer: %v", err)
	}
	token2, _, _ := s.CreateSecureLink(ctx, conv, "Noch etwas", "user:1", time.Minute, now)
	if _, err := s.AnswerSecureLink(ctx, token2, SecureAnswer{Text: "late"}, now.Add(2*time.Minute)); !errors.Is(err, ErrLinkGone) {
		t.Fatalf("expired link: %v", err)
	}
	if _, err := s.SecureLinkByToken(ctx, "nope", now); !errors.Is(err, ErrLinkGone) {
		t.Fatalf("unknown link: %v", err)
	}
	// Bad input changes nothing.
	token3, _, _ := s.CreateSecureLink(ctx, conv, "Dritte", "user:1", time.Hour, now)
	if _, err := s.AnswerSecureLink(ctx, token3, SecureAnswer{Text: "  "}, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty answer: %v", err)
	}
	if _, err := s.AnswerSecureLink(ctx, token3, SecureAnswer{File: strings.NewReader(strings.Repeat("x", SecureAnswerMaxFile+1))}, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("oversized file: %v", err)
	}
	if _, err := s.SecureLinkByToken(ctx, token3, now); err != nil {
		t.Fatalf("a refused answer used the link up: %v", err)
	}
	if _, _, err := s.CreateSecureLink(ctx, conv, "", "user:1", time.Hour, now); !errors.Is(err, ErrInvalid) {
		t.Fatalf("empty prompt: %v", err)
	}
	// The answer is erased with the customer, file included.
	if _, err := s.EraseContact(ctx, "4915112345678", EraseRequest{Actor: "cli"}); err != nil {
		t.Fatal(err)
	}
	if hits := grepDir(t, s.Dir(), []byte("DE02120300000000202051")); len(hits) != 0 {
		t.Fatalf("IBAN after erasure: %v", hits)
	}
	if hits := grepDir(t, s.Dir(), []byte("ausweis-bytes")); len(hits) != 0 {
		t.Fatalf("uploaded file after erasure: %v", hits)
	}
}

func TestRecordsOfProcessingFollowSettings(t *testing.T) {
	ctx := context.Background()
	s := openDP(t, nil)
	if err := s.SetRetentionPolicy(ctx, RetentionPolicy{Class: RetainMessages, Days: 42}, "user:1", time.Now()); err != nil {
		t.Fatal(err)
	}
	r, err := s.RecordsOfProcessing(ctx, ProcessingContext{BackupKeep: 7, BackupMaxAge: 30 * 24 * time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	all := ""
	for _, a := range r.Activities {
		all += strings.Join(a.Retention, "|")
	}
	if !strings.Contains(all, "42 Tage") || !strings.Contains(all, "höchstens 7") || len(r.Processors) == 0 {
		t.Fatalf("records: %s", all)
	}
}
