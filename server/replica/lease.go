package replica

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
)

// Lease is the sending lease in the bucket: only the instance that holds
// it may run. It is one small JSON object (Litestream's lease format)
// under <path>/pforte/lock.json, written only with conditional requests
// (If-None-Match: * to take a free lease, If-Match: <ETag> to renew or
// take an expired one), so two instances cannot both win.
type Lease struct {
	l   *s3Leaser
	log *slog.Logger

	mu  sync.Mutex
	cur *litestream.Lease
}

// ErrLeaseHeld is returned when another instance holds the lease.
var ErrLeaseHeld = errors.New("replica: another instance holds the lease")

// AcquireLease takes the lease for owner, or says who holds it and until
// when. Only s3:// targets have leases.
func AcquireLease(ctx context.Context, cfg Config, owner string, ttl time.Duration, log *slog.Logger) (*Lease, error) {
	t, err := ParseURL(cfg.URL)
	if err != nil {
		return nil, &SettingError{Name: "replica-url", Msg: err.Error()}
	}
	if t.Scheme != "s3" {
		return nil, &SettingError{Name: "replica-lease", Msg: "a lease needs an s3:// replica (conditional writes); sftp:// and file:// have none"}
	}
	cl, err := newS3ClientFor(ctx, t)
	if err != nil {
		return nil, err
	}
	l := &s3Leaser{c: cl, key: path.Join(t.Path, leaseKey), TTL: ttl, Owner: owner}
	cur, err := l.Acquire(ctx)
	var held *litestream.LeaseExistsError
	if errors.As(err, &held) {
		return nil, fmt.Errorf("%w (%s, until %s)", ErrLeaseHeld, held.Owner, held.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return nil, fmt.Errorf("replica: lease: %w", err)
	}
	return &Lease{l: l, log: log, cur: cur}, nil
}

// s3Leaser keeps a litestream.Lease in one object with conditional writes.
type s3Leaser struct {
	c     *s3Client
	key   string
	TTL   time.Duration
	Owner string
}

// read returns the current lease and its ETag, or nil if there is none.
func (l *s3Leaser) read(ctx context.Context) (*litestream.Lease, error) {
	rc, info, err := l.c.Get(ctx, l.key, 0, 0)
	if isNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	var le litestream.Lease
	if err := json.NewDecoder(io.LimitReader(rc, 1<<20)).Decode(&le); err != nil {
		return nil, fmt.Errorf("lease %s unreadable: %w", l.key, err)
	}
	le.ETag = info.ETag
	return &le, nil
}

// write stores le if the object is still at etag ("" = absent); a lost
// race is a *litestream.LeaseExistsError.
func (l *s3Leaser) write(ctx context.Context, le *litestream.Lease, etag string) (string, error) {
	body, err := json.Marshal(le)
	if err != nil {
		return "", err
	}
	o := putOptions{ContentType: "application/json", IfMatch: etag}
	if etag == "" {
		o.IfNoneMatch = "*"
	}
	newTag, _, err := l.c.Put(ctx, l.key, bytes.NewReader(body), o)
	if isPrecondition(err) {
		return "", &litestream.LeaseExistsError{}
	}
	if err != nil {
		return "", err
	}
	if newTag == "" {
		return "", fmt.Errorf("lease %s: the service returned no ETag; conditional writes are needed", l.key)
	}
	return newTag, nil
}

// Acquire takes a free or expired lease.
func (l *s3Leaser) Acquire(ctx context.Context) (*litestream.Lease, error) {
	cur, err := l.read(ctx)
	if err != nil {
		return nil, err
	}
	if cur != nil && !cur.IsExpired() {
		return nil, &litestream.LeaseExistsError{Owner: cur.Owner, ExpiresAt: cur.ExpiresAt}
	}
	next := &litestream.Lease{Generation: 1, ExpiresAt: time.Now().Add(l.TTL), Owner: l.Owner}
	etag := ""
	if cur != nil {
		next.Generation, etag = cur.Generation+1, cur.ETag
	}
	tag, err := l.write(ctx, next, etag)
	var lost *litestream.LeaseExistsError
	if errors.As(err, &lost) {
		// Someone else was faster: say who.
		if now, rerr := l.read(ctx); rerr == nil && now != nil {
			return nil, &litestream.LeaseExistsError{Owner: now.Owner, ExpiresAt: now.ExpiresAt}
		}
	}
	if err != nil {
		return nil, err
	}
	next.ETag = tag
	return next, nil
}

// Renew extends a lease this instance holds.
func (l *s3Leaser) Renew(ctx context.Context, cur *litestream.Lease) (*litestream.Lease, error) {
	next := &litestream.Lease{Generation: cur.Generation, ExpiresAt: time.Now().Add(l.TTL), Owner: l.Owner}
	tag, err := l.write(ctx, next, cur.ETag)
	var lost *litestream.LeaseExistsError
	if errors.As(err, &lost) {
		return nil, litestream.ErrLeaseNotHeld
	}
	if err != nil {
		return nil, err
	}
	next.ETag = tag
	return next, nil
}

// Release deletes the lease if it is still this instance's.
func (l *s3Leaser) Release(ctx context.Context, cur *litestream.Lease) error {
	err := l.c.Delete(ctx, l.key, cur.ETag)
	if isPrecondition(err) {
		return litestream.ErrLeaseNotHeld
	}
	return err
}

// Keep renews the lease every third of its TTL until ctx ends, then
// releases it. lost is called once if the lease can no longer be held:
// taken by another instance, or not renewed before it expires (the bucket
// unreachable) — from then on another instance may take it, so this one
// must stop.
func (le *Lease) Keep(ctx context.Context, lost func(error)) {
	ttl := le.l.TTL
	t := time.NewTicker(ttl / 3)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			le.mu.Lock()
			cur := le.cur
			le.mu.Unlock()
			rel, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := le.l.Release(rel, cur); err != nil {
				le.log.Warn("replica: release lease", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		le.mu.Lock()
		cur := le.cur
		le.mu.Unlock()
		next, err := le.l.Renew(ctx, cur)
		if err == nil {
			le.mu.Lock()
			le.cur = next
			le.mu.Unlock()
			continue
		}
		if ctx.Err() != nil {
			continue
		}
		if errors.Is(err, litestream.ErrLeaseNotHeld) || time.Until(cur.ExpiresAt) < ttl/6 {
			lost(fmt.Errorf("replica: lease lost: %w", err))
			return
		}
		le.log.Warn("replica: lease renewal failed; retrying", "err", err, "expires", cur.ExpiresAt)
	}
}
