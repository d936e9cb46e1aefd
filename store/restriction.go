package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// A contact is restricted (Art. 18 GDPR, § 35(3) BDSG) while an erasure
// request waits for a legal hold to end: the data stays, but agents must
// not see or use it. The lists of the panel take a ListOption to leave
// such contacts out; the panel's agent views always pass it.

// cvRestrictedSQL is true when the contact of conversation row "cv" is
// restricted; cRestrictedSQL the same for contact row "c".
const (
	cvRestrictedSQL = "EXISTS (SELECT 1 FROM erasure_requests er WHERE er.contact_id = cv.contact_id AND er.state = 'restricted')"
	cRestrictedSQL  = "EXISTS (SELECT 1 FROM erasure_requests er WHERE er.contact_id = c.id AND er.state = 'restricted')"
)

// ErrRestricted refuses to send to a restricted contact: writing to them is
// processing, which Art. 18 allows only with their consent. Every send path
// (panel, API, Graph proxy) goes through EnqueueSend, which checks it.
var ErrRestricted = errors.New("store: processing of this customer's data is restricted (Art. 18 GDPR): an erasure request waits for a legal hold to end")

// ListOption narrows what a list returns.
type ListOption func(*listOptions)

type listOptions struct{ hideRestricted bool }

// WithoutRestricted leaves out contacts whose processing is restricted,
// and everything of theirs: what agents see.
func WithoutRestricted() ListOption { return func(o *listOptions) { o.hideRestricted = true } }

func listOpts(opts []ListOption) listOptions {
	var o listOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// ConversationRestricted reports whether a conversation's contact is
// restricted; an unknown conversation is ErrNotFound.
func (s *Store) ConversationRestricted(ctx context.Context, convID int64) (bool, error) {
	var r bool
	err := s.rdb.QueryRowContext(ctx, "SELECT "+cvRestrictedSQL+" FROM conversations cv WHERE cv.id = ?", convID).Scan(&r)
	if errors.Is(err, sql.ErrNoRows) {
		return false, ErrNotFound
	}
	if err != nil {
		return false, fmt.Errorf("store: restricted: %w", err)
	}
	return r, nil
}

// LiftRestriction ends a contact's restriction (Art. 18(3)) without
// erasing: the waiting erasure request is withdrawn, for example because
// the person withdrew it. The decision is journalled, so a restore of an
// older backup does not restrict the contact again. A contact without a
// restriction is ErrNotFound.
func (s *Store) LiftRestriction(ctx context.Context, contactID int64, actor Actor, reason string, now time.Time) error {
	reason = strings.TrimSpace(reason)
	if actor == "" || reason == "" {
		return fmt.Errorf("%w: lifting a restriction needs an actor and a reason", ErrInvalid)
	}
	var reqID int64
	err := s.Write(ctx, func(tx *Tx) error {
		err := tx.QueryRow("DELETE FROM erasure_requests WHERE contact_id = ? AND state = 'restricted' RETURNING id", contactID).Scan(&reqID)
		if errors.Is(err, sql.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("store: lift restriction: %w", err)
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditRestrictionLift,
			Target: fmt.Sprintf("erasure:%d", reqID), Detail: jsonDetail(map[string]any{"contact": contactID, "reason": reason})})
	})
	if err != nil {
		return err
	}
	return s.recordDecision(decision{Kind: DecisionRestrictionLift, At: now.Unix(), Actor: actor, RequestID: reqID}, "")
}
