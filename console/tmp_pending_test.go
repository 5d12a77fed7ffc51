package console_test

import (
	"context"
	"testing"
	"time"

	"github.com/hotline-project/hotline/devnet"
)

func TestTmpPending(t *testing.T) {
	net := network(t)
	alpha, bravo := net.Party("alpha"), net.Party("bravo")
	ctx := context.Background()
	hour := time.Hour
	if err := devnet.Fill(ctx, alpha, "alpha-bravo-frontline", 5000, devnet.FillOptions{AckWithin: &hour}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Second)
	for _, p := range []*devnet.Party{alpha, bravo} {
		start := time.Now()
		items, err := p.Server.Node.Pending(ctx)
		t.Logf("%s: %d items in %v (%v)", p.Name, len(items), time.Since(start), err)
	}
	bh := session(t, bravo)
	start := time.Now()
	page := fetch(t, bh, bravo.Server.ConsoleURL())
	t.Logf("bravo's watch page: %d KB in %v", len(page)>>10, time.Since(start))
}
