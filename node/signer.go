package node

import (
	"errors"
	"fmt"
	"sync"

	"github.com/hotline-project/hotline"
	"github.com/hotline-project/hotline/entry"
)

// signer watches the party key's signer. The key may be held outside
// the node (an ssh-agent, a hardware token): when it stops answering,
// what needs a signature fails cleanly and an alarm is raised once; when
// it answers again, that is logged and the alarm clears. Signatures go
// through boundSigner (see keys.go), which reports here.
type signer struct {
	n *Node

	mu      sync.Mutex
	down    bool
	lastErr string
}

func (s *signer) record(err error) {
	s.mu.Lock()
	was := s.down
	s.down = err != nil
	if err != nil {
		s.lastErr = err.Error()
	}
	s.mu.Unlock()
	n := s.n
	switch {
	case err != nil:
		n.metrics.signerFailures.Inc()
		n.metrics.signerUp.Set(0)
		if !was {
			n.log.Error("PARTY KEY SIGNER DOWN: nothing can be signed or sent until it answers again", "err", err)
			n.events.publish(Event{Type: EventAlarm, By: n.self, Detail: "the party key's signer does not answer: " + err.Error()})
		}
	case was:
		n.metrics.signerUp.Set(1)
		n.log.Info("party key signer answers again")
		n.events.publish(Event{Type: EventLink, By: n.self, Detail: "the party key's signer answers again"})
	}
}

// SignerStatus reports whether the party key's signer answered its last
// request, and if not, why.
func (n *Node) SignerStatus() (up bool, lastErr string) {
	n.signer.mu.Lock()
	defer n.signer.mu.Unlock()
	return !n.signer.down, n.signer.lastErr
}

// signerFailed reports whether err is the signer's failure.
func signerFailed(err error) bool { return errors.Is(err, entry.ErrSigner) }

// signerUnavailable is the operator's answer when the signer failed; it
// still wraps err, so the writer knows a signer failure from the rest.
func signerUnavailable(err error) error {
	return fmt.Errorf("%w: %w", hotline.Errorf(hotline.EUNAVAILABLE,
		"the party key's signer does not answer (%v); nothing was written: start it again (for an ssh-agent: the agent, with the key added) and retry", err), err)
}
