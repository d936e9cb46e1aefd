package replica

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/benbjohnson/litestream"
	lss3 "github.com/benbjohnson/litestream/s3"
)

// Lease is the sending lease in the bucket: only the instance that holds
// it may run. It is Litestream's S3 leaser (conditional writes, so two
// instances cannot both win), kept under <path>/pforte/.
type Lease struct {
	l   *lss3.Leaser
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
		return nil, &SettingError{Name: "replica-lease", Msg: "a lease needs an s3:// replica (conditional writes)"}
	}
	b, err := newBlobs(ctx, t)
	if err != nil {
		return nil, err
	}
	l := lss3.NewLeaser()
	l.SetClient(b.(*s3Blobs).cl)
	l.SetLogger(log)
	l.Bucket, l.Path, l.TTL, l.Owner = t.Bucket, t.Path+"/pforte", ttl, owner
	cur, err := l.AcquireLease(ctx)
	var held *litestream.LeaseExistsError
	if errors.As(err, &held) {
		return nil, fmt.Errorf("%w (%s, until %s)", ErrLeaseHeld, held.Owner, held.ExpiresAt.UTC().Format(time.RFC3339))
	}
	if err != nil {
		return nil, fmt.Errorf("replica: lease: %w", err)
	}
	return &Lease{l: l, log: log, cur: cur}, nil
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
			if err := le.l.ReleaseLease(rel, cur); err != nil {
				le.log.Warn("replica: release lease", "err", err)
			}
			cancel()
			return
		case <-t.C:
		}
		le.mu.Lock()
		cur := le.cur
		le.mu.Unlock()
		next, err := le.l.RenewLease(ctx, cur)
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
