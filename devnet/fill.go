package devnet

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hotline-project/hotline/node"
)

// FillOptions say how Fill writes a channel's history.
type FillOptions struct {
	// Text returns the text of message i; nil gives "Message i".
	Text func(i int) string
	// AckWithin is each message's acknowledgement deadline; nil asks for
	// none.
	AckWithin *time.Duration
	// Workers is how many sends are in flight at once (0: 64): the node's
	// writer signs and commits them in batches.
	Workers int
	// Progress, if set, is called now and then with how many are written.
	Progress func(done int)
}

// Fill writes n signed messages from party p into a channel through the
// node's own write path, many at once so that they batch as they would
// under load: how a benchmark or a test gives a channel a long history in
// seconds, not n HTTP calls. Each is a real entry, signed, stored and
// replicated like any other.
func Fill(ctx context.Context, p *Party, channel string, n int, opts FillOptions) error {
	if p.Server == nil {
		return fmt.Errorf("fill: %s is stopped", p.Name)
	}
	text := opts.Text
	if text == nil {
		text = func(i int) string { return fmt.Sprintf("Message %d", i) }
	}
	ack := opts.AckWithin
	if ack == nil {
		none := time.Duration(0)
		ack = &none
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = 64
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var next, done atomic.Int64
	var once sync.Once
	var firstErr error
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				_, err := p.Server.Node.Send(ctx, Operator, channel, node.MessageInput{Text: text(i), Lang: "en", AckWithin: ack})
				if err != nil {
					once.Do(func() { firstErr = fmt.Errorf("fill %s: message %d: %w", channel, i, err); cancel() })
					return
				}
				if d := done.Add(1); opts.Progress != nil && d%1000 == 0 {
					opts.Progress(int(d))
				}
			}
		}()
	}
	wg.Wait()
	return firstErr
}
