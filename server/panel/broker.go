package panel

import (
	"sync"
	"sync/atomic"
)

// Event tells open panels that something changed in a conversation.
// It carries ids only; browsers fetch what they are allowed to see.
type Event struct {
	Kind         string `json:"kind"` // message, status, assign, note, label, state
	Conversation int64  `json:"conversation"`
	Inbound      bool   `json:"inbound,omitempty"`
	Title        string `json:"title,omitempty"` // customer's name, for a notification
	Unread       *int   `json:"unread,omitempty"`
	// Restricted events concern a restricted contact (Art. 18): agents'
	// streams leave them out.
	Restricted bool `json:"-"`
}

// broker fans panel events out to the open event streams. Publishing never
// blocks: a subscriber that cannot keep up is told to resync instead.
type broker struct {
	mu     sync.Mutex
	subs   map[*subscriber]struct{}
	count  atomic.Int32
	closed bool
}

type subscriber struct {
	ch     chan Event
	lagged atomic.Bool
	done   chan struct{}
}

func newBroker() *broker { return &broker{subs: map[*subscriber]struct{}{}} }

// active is the webhook path's cheap check: with nobody watching, there is
// nothing to look up or send.
func (b *broker) active() bool { return b.count.Load() > 0 }

func (b *broker) subscribe() (*subscriber, func()) {
	s := &subscriber{ch: make(chan Event, 64), done: make(chan struct{})}
	b.mu.Lock()
	if b.closed {
		close(s.done)
	} else {
		b.subs[s] = struct{}{}
		b.count.Add(1)
	}
	b.mu.Unlock()
	return s, func() {
		b.mu.Lock()
		if _, ok := b.subs[s]; ok {
			delete(b.subs, s)
			b.count.Add(-1)
			close(s.done)
		}
		b.mu.Unlock()
	}
}

func (b *broker) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		select {
		case s.ch <- ev:
		default:
			s.lagged.Store(true)
		}
	}
}

// close ends every stream (at shutdown) and refuses new ones.
func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		b.count.Add(-1)
		close(s.done)
	}
}
