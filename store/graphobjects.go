package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
)

// MediaOrigin says how Pforte came to know a Meta media id. The
// Graph-compatible proxy forwards media calls only for ids it knows.
type MediaOrigin int

const (
	// MediaUnknown: neither uploaded through Pforte nor received by it.
	MediaUnknown MediaOrigin = iota
	// MediaUploaded: uploaded to Meta through Pforte (table uploads).
	MediaUploaded
	// MediaReceived: arrived with a customer's message (table media).
	MediaReceived
)

// MediaOriginOf tells whether Pforte uploaded or received mediaID. An
// upload wins when both hold it.
func (s *Store) MediaOriginOf(ctx context.Context, mediaID string) (MediaOrigin, error) {
	if mediaID == "" {
		return MediaUnknown, nil
	}
	var origin int
	err := s.rdb.QueryRowContext(ctx, `SELECT 1 FROM uploads WHERE media_id = ?1
		UNION ALL SELECT 2 FROM media WHERE media_id = ?1 LIMIT 1`, mediaID).Scan(&origin)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return MediaUnknown, nil
	case err != nil:
		return MediaUnknown, fmt.Errorf("store: media origin: %w", err)
	case origin == 1:
		return MediaUploaded, nil
	}
	return MediaReceived, nil
}

// IsBusinessNumber reports whether phoneNumberID is one of the company's
// numbers: seen in a webhook or added in the settings.
func (s *Store) IsBusinessNumber(ctx context.Context, phoneNumberID string) (bool, error) {
	if phoneNumberID == "" {
		return false, nil
	}
	var one int
	err := s.rdb.QueryRowContext(ctx, "SELECT 1 FROM business_numbers WHERE phone_number_id = ?", phoneNumberID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: business number: %w", err)
	}
	return true, nil
}
