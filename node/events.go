package node

import (
	"sync"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// Event types.
const (
	EventEntry     = "entry"     // an entry was stored
	EventChannel   = "channel"   // a channel changed state
	EventDelivered = "delivered" // a receipt covers a feed up to Seq
	EventMarked    = "marked"    // a message was read or acknowledged
	EventAlarm     = "alarm"     // equivocation, a silent link, or another alarm
	EventLink      = "link"      // a silent peer link is heard again
	EventLagged    = "lagged"    // the subscriber missed events; reload state
	EventOverdue   = "overdue"   // a watched entry passed its deadline unanswered
	EventAlert     = "alert"     // an escalation or reminder ladder's alert step
)

// Event is a change a node announces to operators, after it is durable.
type Event struct {
	Type     string               `json:"type"`
	Channel  entry.ChannelID      `json:"-"`
	Entry    entry.ID             `json:"-"`
	Author   string               `json:"author,omitempty"`
	Seq      uint64               `json:"seq,omitempty"`
	Kind     entry.Kind           `json:"kind,omitempty"`
	By       string               `json:"by,omitempty"`
	Operator string               `json:"operator,omitempty"`
	State    hotline.ChannelState `json:"state,omitempty"`
	Detail   string               `json:"detail,omitempty"`
}

// subscriberBuffer is how many events a subscriber may fall behind before
// it is told it lagged and must reload.
const subscriberBuffer = 4096

// Subscription receives events until cancelled.
type Subscription struct {
	C      <-chan Event
	c      chan Event
	b      *broker
	lagged bool
}

// Cancel ends the subscription.
func (s *Subscription) Cancel() { s.b.unsubscribe(s) }

type broker struct {
	mu     sync.Mutex
	subs   map[*Subscription]bool
	closed bool
}

func newBroker() *broker { return &broker{subs: make(map[*Subscription]bool)} }

func (b *broker) subscribe() *Subscription {
	c := make(chan Event, subscriberBuffer)
	s := &Subscription{C: c, c: c, b: b}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		close(c)
		return s
	}
	b.subs[s] = true
	return s
}

func (b *broker) unsubscribe(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs[s] {
		delete(b.subs, s)
		close(s.c)
	}
}

// publish never blocks: a subscriber whose buffer is full gets one lagged
// event once there is room, and misses what came between.
func (b *broker) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for s := range b.subs {
		if s.lagged {
			select {
			case s.c <- Event{Type: EventLagged}:
				s.lagged = false
			default:
				continue
			}
		}
		select {
		case s.c <- ev:
		default:
			s.lagged = true
		}
	}
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		delete(b.subs, s)
		close(s.c)
	}
}
