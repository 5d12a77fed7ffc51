package console_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/hotline-project/hotline/api"
	"github.com/hotline-project/hotline/client"
	"github.com/hotline-project/hotline/devnet"
)

// BenchmarkPages measures what a console page costs to serve (and what
// every live refresh of it costs) when alpha has sent n messages in one
// channel and bravo has received them: bravo's watch page, and alpha's
// page of that channel (the sender's, where nothing is unread, so it
// shows the newest TimelineWindow rows).
func BenchmarkPages(b *testing.B) {
	for _, n := range []int{100, 1000, 5000} {
		net := network(b)
		alpha, bravo := net.Party("alpha"), net.Party("bravo")
		const ch = "alpha-bravo-policy"
		ac := client.New(alpha.Server.APIURL(), alpha.Token)
		ctx := context.Background()
		none := "0s"
		for i := range n {
			if _, err := ac.Send(ctx, ch, api.SendRequest{Text: fmt.Sprintf("Message %d of the exchange on the incident at sea.", i), Lang: "en", AckWithin: &none}); err != nil {
				b.Fatal(err)
			}
		}
		waitFor(b, "bravo holds every message", func() bool { return countKind(b, bravo, ch, "message") == n })
		bh, ah := session(b, bravo), session(b, alpha)
		b.Run(fmt.Sprintf("watch/messages=%d", n), func(b *testing.B) {
			for b.Loop() {
				fetch(b, bh, bravo.Server.ConsoleURL())
			}
		})
		b.Run(fmt.Sprintf("channel/messages=%d", n), func(b *testing.B) {
			url := channelURL(b, alpha, ch)
			for b.Loop() {
				fetch(b, ah, url)
			}
		})
		// The same page showing every row, as it did before the window:
		// the yardstick for what the window saves.
		b.Run(fmt.Sprintf("channel-all/messages=%d", n), func(b *testing.B) {
			url := channelURL(b, alpha, ch) + "?show=1000000"
			for b.Loop() {
				fetch(b, ah, url)
			}
		})
		net.Stop(ctx)
	}
}

// session is an HTTP client logged in to p's console by a one-time link.
func session(tb testing.TB, p *devnet.Party) *http.Client {
	tb.Helper()
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar}
	fetch(tb, hc, p.Server.APIURL()+p.Server.Console.LoginLink(devnet.Operator))
	return hc
}
