package devnet

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hotline-project/hotline/node"
)

// A node that closes while writes are being submitted answers every one of
// them. None is left waiting for a writer that has gone (CI once hung on
// one, queued by a sync loop after the writer's last drain). The writes
// go to the node directly, as its own loops' do, so some reach it after
// its store has closed too: they fail, but they return.
func TestClose_AnswersEveryWriteInFlight(t *testing.T) {
	for round := range 5 {
		net := MustStart(t, 2)
		alpha := net.Party("alpha")
		n := alpha.Server.Node
		var wg sync.WaitGroup
		var ok atomic.Int64
		answered := make(chan error, 64*1000)
		for w := range 64 {
			wg.Go(func() {
				for i := range 1000 {
					_, err := n.Send(context.Background(), Operator, "alpha-bravo-policy", node.MessageInput{Text: fmt.Sprintf("round %d sender %d message %d", round, w, i)})
					answered <- err
					if err != nil {
						return
					}
					ok.Add(1)
				}
			})
		}
		// Close while writes flow: once some are written (a loaded
		// machine may take a while to write the first), a little later.
		for deadline := time.Now().Add(30 * time.Second); ok.Load() == 0 && time.Now().Before(deadline); {
			time.Sleep(5 * time.Millisecond)
		}
		time.Sleep(20 * time.Millisecond)
		if err := net.StopParty(context.Background(), alpha); err != nil {
			t.Fatal(err)
		}
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(time.Minute):
			t.Fatalf("round %d: senders still wait for an answer a minute after the node closed", round)
		}
		close(answered)
		written := 0
		for err := range answered {
			if err == nil {
				written++
			}
		}
		if written == 0 {
			t.Fatalf("round %d: nothing was written before the close: the test tested nothing", round)
		}
	}
}
