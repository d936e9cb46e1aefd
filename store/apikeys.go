package store

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"database/sql"
	"encoding/base32"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Scope is what an API key may do; the value is stored in api_keys.scopes.
type Scope string

// API key scopes.
const (
	ScopeRead  Scope = "read"
	ScopeSend  Scope = "send"
	ScopeGDPR  Scope = "gdpr"
	ScopeAdmin Scope = "admin"
)

// Scopes is a key's set of scopes, stored comma-separated.
type Scopes []Scope

// AllScopes lists every scope a key may carry.
func AllScopes() Scopes { return Scopes{ScopeRead, ScopeSend, ScopeGDPR, ScopeAdmin} }

// Strings gives the scopes as plain strings, for forms and JSON.
func (ss Scopes) Strings() []string {
	out := make([]string, len(ss))
	for i, sc := range ss {
		out[i] = string(sc)
	}
	return out
}

// String joins the scopes as stored: "read,send".
func (ss Scopes) String() string { return strings.Join(ss.Strings(), ",") }

// splitScopes reads the stored column back.
func splitScopes(col string) Scopes {
	var out Scopes
	for _, sc := range strings.Split(col, ",") {
		out = append(out, Scope(sc))
	}
	return out
}

// APIKey is a stored key; the secret itself is never kept.
type APIKey struct {
	ID         int64
	Name       string
	Prefix     string
	Scopes     Scopes
	CreatedAt  int64
	LastUsedAt int64
}

// Has reports whether the key carries scope; admin implies every scope.
func (k *APIKey) Has(scope Scope) bool {
	return slices.Contains(k.Scopes, scope) || slices.Contains(k.Scopes, ScopeAdmin)
}

// apiKeyPrefix marks Pforte keys so that secret scanners can find leaked ones.
const apiKeyPrefix = "pfk_"

// ParseScopes checks a comma-separated scope list.
func ParseScopes(list string) (Scopes, error) {
	var out Scopes
	for _, word := range strings.Split(list, ",") {
		s := Scope(strings.TrimSpace(word))
		if s == "" {
			continue
		}
		if !slices.Contains(AllScopes(), s) {
			return nil, fmt.Errorf("unknown scope %q (known: %s)", s, strings.Join(AllScopes().Strings(), ", "))
		}
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no scopes given")
	}
	return out, nil
}

// CreateAPIKey makes a new key and returns it in full; this is the only time
// the full key exists outside the caller.
func (s *Store) CreateAPIKey(ctx context.Context, name string, scopes Scopes) (string, *APIKey, error) {
	var raw [20]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", nil, fmt.Errorf("store: api key: %w", err)
	}
	secret := apiKeyPrefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw[:]))
	sum := sha256.Sum256([]byte(secret))
	k := &APIKey{Name: name, Prefix: secret[:len(apiKeyPrefix)+6], Scopes: scopes, CreatedAt: time.Now().Unix()}
	err := s.Write(ctx, func(tx *Tx) error {
		return tx.QueryRow(`INSERT INTO api_keys(name, prefix, hash, scopes, created_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
			name, k.Prefix, sum[:], scopes.String(), k.CreatedAt).Scan(&k.ID)
	})
	if err != nil {
		return "", nil, fmt.Errorf("store: api key: %w", err)
	}
	return secret, k, nil
}

// APIKeyBySecret looks up a presented key. Keys are 160 random bits, so a
// plain SHA-256 index lookup is safe: the hash reveals nothing to guess from.
func (s *Store) APIKeyBySecret(ctx context.Context, secret string) (*APIKey, error) {
	if !strings.HasPrefix(secret, apiKeyPrefix) {
		return nil, ErrNotFound
	}
	sum := sha256.Sum256([]byte(secret))
	var k APIKey
	var scopes string
	var used sql.NullInt64
	err := s.rdb.QueryRowContext(ctx, `SELECT id, name, prefix, scopes, created_at, last_used_at FROM api_keys
		WHERE hash = ? AND revoked_at IS NULL`, sum[:]).Scan(&k.ID, &k.Name, &k.Prefix, &scopes, &k.CreatedAt, &used)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("store: api key: %w", err)
	}
	k.Scopes = splitScopes(scopes)
	k.LastUsedAt = used.Int64
	return &k, nil
}

// TouchAPIKey records that a key was used, at most once a minute per key so
// that a busy integration does not turn every read into a write.
func (s *Store) TouchAPIKey(ctx context.Context, k *APIKey, now time.Time) error {
	if now.Unix()-k.LastUsedAt < 60 {
		return nil
	}
	return s.Write(ctx, func(tx *Tx) error {
		if _, err := tx.Exec("UPDATE api_keys SET last_used_at = ? WHERE id = ?", now.Unix(), k.ID); err != nil {
			return err
		}
		// The audit trail records key use at the same pace: once a minute
		// per key is enough to answer "which system was active when".
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: KeyActor(k.Prefix), Action: AuditAPIKeyUse, Target: KeyActor(k.Prefix).String()})
	})
}
