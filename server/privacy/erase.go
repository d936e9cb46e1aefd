// Package privacy carries out the data protection duties that span more
// than the database: an erasure removes the customer from the store and
// then the files Pforte uploaded for them at Meta, through the one Meta
// client; an export (export.go) renders the customer's rows from the store
// as the Art. 15/20 archive. The panel, the API and the command line all
// erase and export through it.
package privacy

import (
	"context"
	"errors"
	"log/slog"

	"github.com/pforte/pforte/server/cloudapi"
	"github.com/pforte/pforte/store"
)

// MetaMedia counts the files uploaded to Meta for the customer and how
// their deletion there went.
type MetaMedia struct {
	Deleted int `json:"deleted"`
	Failed  int `json:"failed"`
	Skipped int `json:"skipped"` // no access token, or no Graph access configured
}

// Eraser erases customers.
type Eraser struct {
	Store *store.Store
	// DeleteAtMeta deletes one file Pforte uploaded to Meta (the Meta
	// client's EraseMedia); nil, or cloudapi.ErrNoToken, skips the files.
	DeleteAtMeta func(ctx context.Context, mediaID string) error
	Log          *slog.Logger
}

// Erase erases the customer key names (a contact id, wa_id or user id), or
// restricts them while a legal hold applies, and deletes their uploads at
// Meta. The store's erasure is final once it returns; a file Meta could
// not delete is counted, not retried (Meta drops uploads after 30 days).
func (e Eraser) Erase(ctx context.Context, key string, req store.EraseRequest) (*store.EraseResult, MetaMedia, error) {
	res, err := e.Store.EraseContact(ctx, key, req)
	if err != nil {
		return nil, MetaMedia{}, err
	}
	return res, e.deleteAtMeta(ctx, res.MetaMediaIDs), nil
}

func (e Eraser) deleteAtMeta(ctx context.Context, ids []string) MetaMedia {
	var m MetaMedia
	for _, id := range ids {
		if e.DeleteAtMeta == nil {
			m.Skipped++
			continue
		}
		err := e.DeleteAtMeta(ctx, id)
		switch {
		case errors.Is(err, cloudapi.ErrNoToken):
			m.Skipped++
		case err != nil:
			if e.Log != nil {
				e.Log.Warn("media not deleted at Meta", "err", err)
			}
			m.Failed++
		default:
			m.Deleted++
		}
	}
	return m
}
