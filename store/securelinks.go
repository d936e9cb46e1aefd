package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
	"unicode/utf8"
)

// ErrLinkGone is returned for a secure link that was used, has expired or
// never existed; the three are not told apart to the visitor.
var ErrLinkGone = errors.New("store: this link is no longer valid")

// SecureLink is a one-time link to Pforte's answer page. The token is
// shown once; only its hash is kept.
type SecureLink struct {
	ID             int64
	ConversationID int64
	Prompt         string
	CreatedBy      Actor
	CreatedAt      int64
	ExpiresAt      int64
	UsedAt         int64
}

// Limits of the answer page.
const (
	SecureAnswerMaxText = 10000
	SecureAnswerMaxFile = 20 << 20
)

func tokenHash(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateSecureLink makes a one-time link for a conversation. prompt tells
// the customer what is asked (e.g. "Bitte IBAN für die Erstattung").
func (s *Store) CreateSecureLink(ctx context.Context, conversationID int64, prompt string, actor Actor, ttl time.Duration, now time.Time) (string, *SecureLink, error) {
	prompt = strings.TrimSpace(prompt)
	if prompt == "" || utf8.RuneCountInString(prompt) > 500 {
		return "", nil, fmt.Errorf("%w: the prompt must be 1 to 500 characters", ErrInvalid)
	}
	if ttl <= 0 || ttl > 30*24*time.Hour {
		return "", nil, fmt.Errorf("%w: a link lives between a minute and 30 days", ErrInvalid)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", nil, fmt.Errorf("store: secure link: %w", err)
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	l := &SecureLink{ConversationID: conversationID, Prompt: prompt, CreatedBy: actor, CreatedAt: now.Unix(), ExpiresAt: now.Add(ttl).Unix()}
	err := s.Write(ctx, func(tx *Tx) error {
		var one int
		if err := tx.QueryRow("SELECT 1 FROM conversations WHERE id = ?", conversationID).Scan(&one); errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		} else if err != nil {
			return err
		}
		if err := tx.QueryRow(`INSERT INTO secure_links(token_hash, conversation_id, prompt, created_by, created_at, expires_at)
			VALUES (?, ?, ?, ?, ?, ?) RETURNING id`, tokenHash(token), conversationID, prompt, actor, l.CreatedAt, l.ExpiresAt).Scan(&l.ID); err != nil {
			return fmt.Errorf("store: secure link: %w", err)
		}
		return AuditTx(tx, AuditEntry{TS: l.CreatedAt, Actor: actor, Action: AuditSecureLinkCreate, Target: fmt.Sprintf("conversation:%d", conversationID),
			Detail: jsonDetail(map[string]any{"link": l.ID, "expires_at": l.ExpiresAt})})
	})
	if err != nil {
		return "", nil, err
	}
	return token, l, nil
}

// SecureLinkByToken returns a link that can still be answered.
func (s *Store) SecureLinkByToken(ctx context.Context, token string, now time.Time) (*SecureLink, error) {
	var l SecureLink
	var used sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT id, conversation_id, prompt, created_by, created_at, expires_at, used_at
		FROM secure_links WHERE token_hash = ?`, tokenHash(token)).Scan(&l.ID, &l.ConversationID, &l.Prompt, &l.CreatedBy, &l.CreatedAt, &l.ExpiresAt, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrLinkGone
	}
	if err != nil {
		return nil, fmt.Errorf("store: secure link: %w", err)
	}
	if used.Valid || l.ExpiresAt <= now.Unix() {
		return nil, ErrLinkGone
	}
	return &l, nil
}

// SecureAnswer is what the customer submitted on the answer page.
type SecureAnswer struct {
	Text     string
	File     io.Reader // optional
	FileName string
	MimeType string
}

// AnswerSecureLink stores the answer in the link's conversation as an
// inbound message of type "secure_answer", with the file stored like any
// media file, and uses the link up. It is covered by retention and erasure
// like every other message.
func (s *Store) AnswerSecureLink(ctx context.Context, token string, a SecureAnswer, now time.Time) (*Message, error) {
	a.Text = strings.TrimSpace(a.Text)
	if !utf8.ValidString(a.Text) || utf8.RuneCountInString(a.Text) > SecureAnswerMaxText {
		return nil, fmt.Errorf("%w: the answer is limited to %d characters", ErrInvalid, SecureAnswerMaxText)
	}
	if a.Text == "" && a.File == nil {
		return nil, fmt.Errorf("%w: the answer is empty", ErrInvalid)
	}
	if _, err := s.SecureLinkByToken(ctx, token, now); err != nil {
		return nil, err
	}
	var rel, sum string
	var size int64
	if a.File != nil {
		var err error
		if rel, sum, size, err = s.saveMediaFile(a.File, SecureAnswerMaxFile); err != nil {
			return nil, err
		}
		if size == 0 {
			s.unlinkUnreferenced(ctx, []string{rel})
			rel = ""
		}
	}
	if a.Text == "" && rel == "" {
		return nil, fmt.Errorf("%w: the answer is empty", ErrInvalid)
	}
	var msgID int64
	var wamid string
	err := s.Write(ctx, func(tx *Tx) error {
		var id, conv int64
		var prompt string
		err := tx.QueryRow(`UPDATE secure_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ?
			RETURNING id, conversation_id, prompt`, now.Unix(), tokenHash(token), now.Unix()).Scan(&id, &conv, &prompt)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrLinkGone // answered twice at the same moment: the first one wins
		}
		if err != nil {
			return err
		}
		wamid = fmt.Sprintf("pforte.secure.%d", id)
		typ := "secure_answer"
		payload, _ := json.Marshal(map[string]any{"prompt": prompt, "link": id})
		if err := tx.QueryRow(`INSERT INTO messages(wamid, conversation_id, direction, type, text, payload, ts, created_at)
			VALUES (?, ?, 'inbound', ?, ?, ?, ?, ?) RETURNING id`, wamid, conv, typ, nullString(a.Text), string(payload), now.Unix(), now.Unix()).Scan(&msgID); err != nil {
			return err
		}
		if rel != "" {
			if _, err := tx.Exec(`INSERT INTO media(message_id, mime_type, sha256, filename, size, path, state) VALUES (?, ?, ?, ?, ?, ?, 'stored')`,
				msgID, a.MimeType, sum, SafeFileName(a.FileName, a.MimeType), size, rel); err != nil {
				return err
			}
		}
		if _, err := tx.Exec("UPDATE secure_links SET message_id = ? WHERE id = ?", msgID, id); err != nil {
			return err
		}
		if _, err := tx.Exec(`UPDATE conversations SET last_message_at = max(last_message_at, ?1), unread = unread + 1, status = 'open', updated_at = ?1
			WHERE id = ?2`, now.Unix(), conv); err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: ActorCustomer, Action: AuditSecureLinkAnswer, Target: fmt.Sprintf("conversation:%d", conv),
			Detail: jsonDetail(map[string]any{"link": id, "file": rel != ""})})
	})
	if err != nil {
		if rel != "" {
			s.unlinkUnreferenced(context.Background(), []string{rel})
		}
		return nil, err
	}
	return s.MessageByWAMID(ctx, wamid)
}

// saveMediaFile stores bytes in the media folder under their SHA-256, the
// way every media file is named, and returns the relative path, the
// digest in WhatsApp's base64 form and the size. It refuses more than
// limit bytes.
func (s *Store) saveMediaFile(r io.Reader, limit int64) (rel, sum string, size int64, err error) {
	tmp, err := s.NewMediaTemp()
	if err != nil {
		return "", "", 0, err
	}
	defer tmp.Discard()
	if _, err := io.Copy(tmp, io.LimitReader(r, limit+1)); err != nil {
		return "", "", 0, fmt.Errorf("store: media: %w", err)
	}
	if tmp.Size() > limit {
		return "", "", 0, fmt.Errorf("%w: the file is larger than %d MB", ErrInvalid, limit>>20)
	}
	digest := tmp.Sum()
	if rel, err = tmp.Commit(); err != nil {
		return "", "", 0, err
	}
	return rel, base64.StdEncoding.EncodeToString(digest), tmp.Size(), nil
}

// ContactConversation picks the conversation a secure link goes into: the
// one on phoneNumberID, or the customer's most recent one.
func (s *Store) ContactConversation(ctx context.Context, contactID int64, phoneNumberID string) (int64, error) {
	var id int64
	err := s.rdb.QueryRowContext(ctx, `SELECT cv.id FROM conversations cv JOIN business_numbers n ON n.id = cv.business_number_id
		WHERE cv.contact_id = ? AND (? = '' OR n.phone_number_id = ?) ORDER BY cv.last_message_at DESC LIMIT 1`,
		contactID, phoneNumberID, phoneNumberID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: conversation: %w", err)
	}
	return id, nil
}

// ConversationContact returns the contact a conversation belongs to.
func (s *Store) ConversationContact(ctx context.Context, conversationID int64) (int64, error) {
	var id int64
	err := s.rdb.QueryRowContext(ctx, "SELECT contact_id FROM conversations WHERE id = ?", conversationID).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, ErrNotFound
	}
	if err != nil {
		return 0, fmt.Errorf("store: conversation: %w", err)
	}
	return id, nil
}

// State is "answered", "expired" or "open" at now.
func (l *SecureLink) State(now time.Time) string {
	switch {
	case l.UsedAt > 0:
		return "answered"
	case l.ExpiresAt <= now.Unix():
		return "expired"
	}
	return "open"
}

// SecureLinks lists a conversation's links, newest first, for the panel
// to show what was asked and whether it was answered.
func (s *Store) SecureLinks(ctx context.Context, conversationID int64) ([]SecureLink, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, conversation_id, prompt, created_by, created_at, expires_at, coalesce(used_at, 0)
		FROM secure_links WHERE conversation_id = ? ORDER BY id DESC LIMIT 20`, conversationID)
	if err != nil {
		return nil, fmt.Errorf("store: secure links: %w", err)
	}
	defer rows.Close()
	var out []SecureLink
	for rows.Next() {
		var l SecureLink
		if err := rows.Scan(&l.ID, &l.ConversationID, &l.Prompt, &l.CreatedBy, &l.CreatedAt, &l.ExpiresAt, &l.UsedAt); err != nil {
			return nil, fmt.Errorf("store: secure links: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
