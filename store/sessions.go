package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Session is a logged-in browser. Only the token's hash is stored, so a
// copy of the database cannot be used to take over a session.
type Session struct {
	ID         int64
	UserID     int64
	MFAPending bool // password checked, second factor still owed
	CreatedAt  int64
	LastSeenAt int64
	IP         string
	UserAgent  string
	SSO        bool // started through the single sign-on provider (sso.go)
	// SSOCheckedAt is when the provider last confirmed the account.
	SSOCheckedAt int64
}

// HashToken is how session and invite tokens are stored and looked up.
func HashToken(token string) []byte {
	sum := sha256.Sum256([]byte(token))
	return sum[:]
}

// CreateSession stores a new session for token. replace, if non-empty, is
// the token of the browser's previous session, which is deleted in the same
// commit: a login always gets a fresh token (no session fixation).
func (s *Store) CreateSession(ctx context.Context, token string, sess Session, replace string, audit ...AuditEntry) (*Session, error) {
	now := time.Now().Unix()
	if sess.CreatedAt == 0 {
		sess.CreatedAt = now
	}
	sess.LastSeenAt = sess.CreatedAt
	err := s.Write(ctx, func(tx *Tx) error {
		if replace != "" {
			if _, err := tx.Exec("DELETE FROM sessions WHERE token_hash = ?", HashToken(replace)); err != nil {
				return err
			}
		}
		if err := tx.QueryRow(`INSERT INTO sessions(token_hash, user_id, mfa_pending, created_at, last_seen_at, ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`, HashToken(token), sess.UserID, sess.MFAPending, sess.CreatedAt, sess.LastSeenAt,
			sess.IP, sess.UserAgent).Scan(&sess.ID); err != nil {
			return err
		}
		return auditAll(tx, audit, UserActor(sess.UserID).String())
	})
	if err != nil {
		return nil, fmt.Errorf("store: create session: %w", err)
	}
	return &sess, nil
}

// SessionByToken returns the session a cookie names, with its user.
func (s *Store) SessionByToken(ctx context.Context, token string) (*Session, *User, error) {
	var sess Session
	row := s.rdb.QueryRowContext(ctx, `SELECT s.id, s.user_id, s.mfa_pending, s.created_at, s.last_seen_at, s.ip, s.user_agent,
		u.id, u.email, u.name, u.role, u.password_hash, u.totp_secret, u.totp_enabled, u.totp_last_step, u.recovery_codes, u.lang, u.notify, u.disabled_at IS NOT NULL, u.created_at,
		s.sso_identity_id IS NOT NULL, s.sso_checked_at, (SELECT count(*) FROM passkeys p WHERE p.user_id = u.id) FROM sessions s JOIN users u ON u.id = s.user_id WHERE s.token_hash = ?`, HashToken(token))
	var u User
	var codes string
	err := row.Scan(&sess.ID, &sess.UserID, &sess.MFAPending, &sess.CreatedAt, &sess.LastSeenAt, &sess.IP, &sess.UserAgent,
		&u.ID, &u.Email, &u.Name, &u.Role, &u.PasswordHash, &u.TOTPSecret, &u.TOTPEnabled, &u.TOTPLastStep,
		&codes, &u.Lang, &u.Notify, &u.Disabled, &u.CreatedAt, &sess.SSO, &sess.SSOCheckedAt, &u.Passkeys)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, ErrNotFound
	}
	if err != nil {
		return nil, nil, fmt.Errorf("store: session: %w", err)
	}
	return &sess, &u, nil
}

// TouchSession records activity for the idle timeout.
func (s *Store) TouchSession(ctx context.Context, id int64, now time.Time) error {
	return s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE sessions SET last_seen_at = ? WHERE id = ?", now.Unix(), id)
		return err
	})
}

// CompleteMFA marks a session's second factor as done by replacing it
// with a fresh token, so the pre-MFA token is worth nothing.
func (s *Store) CompleteMFA(ctx context.Context, oldToken, newToken string, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("UPDATE sessions SET token_hash = ?, mfa_pending = 0, last_seen_at = ? WHERE token_hash = ? AND mfa_pending = 1",
			HashToken(newToken), time.Now().Unix(), HashToken(oldToken))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return auditAll(tx, audit, "")
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: complete mfa: %w", err)
	}
	return nil
}

// DeleteSession ends one session (logout).
func (s *Store) DeleteSession(ctx context.Context, token string, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("DELETE FROM sessions WHERE token_hash = ?", HashToken(token)); err != nil {
			return err
		}
		return auditAll(tx, audit, "")
	})
	if err != nil {
		return fmt.Errorf("store: delete session: %w", err)
	}
	return nil
}

// DeleteUserSessions ends every session of a user ("log out everywhere").
func (s *Store) DeleteUserSessions(ctx context.Context, userID int64, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("DELETE FROM sessions WHERE user_id = ?", userID); err != nil {
			return err
		}
		return auditAll(tx, audit, UserActor(userID).String())
	})
	if err != nil {
		return fmt.Errorf("store: delete sessions: %w", err)
	}
	return nil
}

// DeleteExpiredSessions removes sessions idle since before idleBefore or
// created before createdBefore.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	var n int64
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?", idleBefore.Unix(), createdBefore.Unix())
		if err != nil {
			return err
		}
		n, _ = res.RowsAffected()
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("store: expire sessions: %w", err)
	}
	return n, nil
}

// UserSessions lists a user's sessions, newest first.
func (s *Store) UserSessions(ctx context.Context, userID int64) ([]Session, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, user_id, mfa_pending, created_at, last_seen_at, ip, user_agent
		FROM sessions WHERE user_id = ? ORDER BY last_seen_at DESC`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: sessions: %w", err)
	}
	defer rows.Close()
	var out []Session
	for rows.Next() {
		var ss Session
		if err := rows.Scan(&ss.ID, &ss.UserID, &ss.MFAPending, &ss.CreatedAt, &ss.LastSeenAt, &ss.IP, &ss.UserAgent); err != nil {
			return nil, fmt.Errorf("store: sessions: %w", err)
		}
		out = append(out, ss)
	}
	return out, rows.Err()
}
