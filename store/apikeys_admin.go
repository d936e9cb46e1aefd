package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// APIKeyInfo is a key as the settings page lists it.
type APIKeyInfo struct {
	APIKey
	RevokedAt int64
}

// APIKeys lists every key, newest first, without secrets.
func (s *Store) APIKeys(ctx context.Context) ([]APIKeyInfo, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT id, name, prefix, scopes, created_at, coalesce(last_used_at, 0), coalesce(revoked_at, 0)
		FROM api_keys ORDER BY revoked_at IS NOT NULL, id DESC`)
	if err != nil {
		return nil, fmt.Errorf("store: api keys: %w", err)
	}
	defer rows.Close()
	var out []APIKeyInfo
	for rows.Next() {
		var k APIKeyInfo
		var scopes string
		if err := rows.Scan(&k.ID, &k.Name, &k.Prefix, &scopes, &k.CreatedAt, &k.LastUsedAt, &k.RevokedAt); err != nil {
			return nil, fmt.Errorf("store: api keys: %w", err)
		}
		k.Scopes = splitScopes(scopes)
		out = append(out, k)
	}
	return out, rows.Err()
}

// RevokeAPIKey makes a key unusable at once.
func (s *Store) RevokeAPIKey(ctx context.Context, id int64, audit ...AuditEntry) error {
	err := s.Write(ctx, func(tx *Tx) error {
		var prefix string
		err := tx.QueryRow("UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL RETURNING prefix", time.Now().Unix(), id).Scan(&prefix)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		return auditAll(tx, audit, KeyActor(prefix).String())
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: revoke api key: %w", err)
	}
	return nil
}
