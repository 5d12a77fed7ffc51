package node

import (
	"sync"
	"time"

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
	EventLink      = "link"      // a peer link went down, or a silent one is heard again
	EventLagged    = "lagged"    // the subscriber missed events; reload state
	EventOverdue   = "overdue"   // a watched entry passed its deadline unanswered
	EventAlert     = "alert"     // an escalation or reminder ladder's alert step
	EventDraft     = "draft"     // a draft was held, released, returned, withdrawn or sent (State)
)

// Event is a change a node announces to operators, after it is durable.
type Event struct {
	// ID numbers the node's events since it started, from 1; a stream
	// that was cut resumes after the last ID it saw.
	ID       uint64               `json:"-"`
	Type     string               `json:"type"`
	Channel  entry.ChannelID      `json:"-"`
	Entry    entry.ID             `json:"-"`
	Author   string               `json:"author,omitempty"`
	Seq      uint64               `json:"seq,omitempty"`
	From     uint64               `json:"from,omitempty"` // a cumulative read: the first seq it marks
	Kind     entry.Kind           `json:"kind,omitempty"`
	By       string               `json:"by,omitempty"`
	Operator string               `json:"operator,omitempty"`
	State    hotline.ChannelState `json:"state,omitempty"`
	Detail   string               `json:"detail,omitempty"`
}

// Live event streams are bounded: each subscriber may fall behind by
// subscriberBuffer events, past which it is cut (its channel closed) and
// must come back, asking for what it missed by the last event id it saw
// (SSE's Last-Event-ID): the broker keeps the last subscriberBuffer
// events in a ring for that (a subscriber that missed more could not
// have taken them anyway), and answers one that missed more with one
// lagged event (reload everything). Streams are capped in total and per
// operator, so neither many slow readers nor a flood of events can make
// the node hold more than about 50 MiB for them (256 streams).
const subscriberBuffer = 1024 // about 200 KiB a stream

// StreamLimits bound the live event streams.
type StreamLimits struct {
	Total, PerOperator int // zero: 256 and 8
}

// Subscription receives events until cancelled, or until it falls too
// far behind: then C is closed and Cut reports true.
type Subscription struct {
	C        <-chan Event
	c        chan Event
	b        *broker
	operator string
	cut      bool
}

// Cut reports whether the broker ended the subscription because its
// reader fell behind.
func (s *Subscription) Cut() bool {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	return s.cut
}

// Cancel ends the subscription.
func (s *Subscription) Cancel() { s.b.unsubscribe(s) }

type broker struct {
	limits StreamLimits

	mu      sync.Mutex
	subs    map[*Subscription]bool
	byOp    map[string]int
	closed  bool
	lastID  uint64
	replay  [subscriberBuffer]Event // the newest events, a ring: the oldest at replay[start]
	start   int
	held    int    // how many of replay hold events
	dropped uint64 // subscribers cut for falling behind
}

func newBroker(l StreamLimits) *broker {
	if l.Total <= 0 {
		l.Total = 256
	}
	if l.PerOperator <= 0 {
		l.PerOperator = 8
	}
	// Ids go on from the clock, so an id seen before a restart is older
	// than every id after it, and its stream is told it lagged.
	return &broker{limits: l, subs: make(map[*Subscription]bool), byOp: make(map[string]int), lastID: uint64(time.Now().UnixMicro())}
}

// errTooManyStreams refuses a stream past the caps.
var errTooManyStreams = hotline.Errorf(hotline.EBUSY, "too many live event streams are open; close some (other console tabs) and retry")

// subscribe opens a subscription for operator. With after > 0, it first
// delivers the events after that id, if the broker still holds them all,
// or else one lagged event.
func (b *broker) subscribe(operator string, after uint64) (*Subscription, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed && (len(b.subs) >= b.limits.Total || b.byOp[operator] >= b.limits.PerOperator) {
		return nil, errTooManyStreams
	}
	c := make(chan Event, subscriberBuffer)
	s := &Subscription{C: c, c: c, b: b, operator: operator}
	if b.closed {
		close(c)
		return s, nil
	}
	if after > 0 && after != b.lastID {
		if after > b.lastID || b.held == 0 || b.replay[b.start].ID > after+1 {
			c <- Event{Type: EventLagged, ID: b.lastID}
		} else {
			for i := range b.held {
				if ev := b.replay[(b.start+i)%subscriberBuffer]; ev.ID > after {
					c <- ev
				}
			}
		}
	}
	b.subs[s] = true
	b.byOp[operator]++
	return s, nil
}

func (b *broker) unsubscribe(s *Subscription) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.remove(s)
}

// remove ends s; the caller holds b.mu.
func (b *broker) remove(s *Subscription) {
	if b.subs[s] {
		delete(b.subs, s)
		if b.byOp[s.operator]--; b.byOp[s.operator] <= 0 {
			delete(b.byOp, s.operator)
		}
		close(s.c)
	}
}

// publish numbers ev and never blocks: a subscriber whose buffer is full
// is cut.
func (b *broker) publish(ev Event) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.lastID++
	ev.ID = b.lastID
	if b.held < subscriberBuffer {
		b.replay[(b.start+b.held)%subscriberBuffer] = ev
		b.held++
	} else {
		b.replay[b.start] = ev // the oldest goes
		b.start = (b.start + 1) % subscriberBuffer
	}
	for s := range b.subs {
		select {
		case s.c <- ev:
		default:
			s.cut = true
			b.dropped++
			b.remove(s)
		}
	}
}

// streams returns how many subscriptions are open, and how many were cut.
func (b *broker) streams() (open int, cut uint64) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.subs), b.dropped
}

func (b *broker) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.closed = true
	for s := range b.subs {
		b.remove(s)
	}
}
