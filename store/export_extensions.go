package store

import "context"

// exportExtension returns what a table outside the core keeps about a
// contact for one section of data.json ("notes", "labels"); an empty list
// while no such table is part of this build.
func exportExtension(ctx context.Context, s *Store, section string, contactID int64) (any, error) {
	if fn, ok := exportExtensions[section]; ok {
		return fn(ctx, s, contactID)
	}
	return []any{}, nil
}

var exportExtensions = map[string]func(ctx context.Context, s *Store, contactID int64) (any, error){}
