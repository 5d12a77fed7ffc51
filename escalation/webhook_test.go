package escalation

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// A webhook that fails transiently is retried with the same delivery id
// and signature until it answers; one that refuses the call is not.
func TestPoster_RetriesTransientFailuresOnly(t *testing.T) {
	secret := []byte("0123456789abcdef")
	var calls atomic.Int32
	var deliveries []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		if !CheckSignature(secret, body, r.Header.Get(SignatureHeader)) {
			t.Errorf("bad signature on attempt %d", calls.Load()+1)
		}
		deliveries = append(deliveries, r.Header.Get(DeliveryHeader))
		switch n := calls.Add(1); {
		case strings.HasSuffix(r.URL.Path, "/refuse"):
			http.Error(w, "no such hook", http.StatusNotFound)
		case n < 3:
			http.Error(w, "try later", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	p := &Poster{Retry: Retry{Attempts: 5, First: time.Millisecond, Max: 2 * time.Millisecond}}
	pl := &Payload{Event: EventOverdue, Delivery: "e/escalation/2"}
	if err := p.Post(context.Background(), srv.URL+"/ok", secret, pl); err != nil {
		t.Fatalf("post after two transient failures: %v", err)
	}
	if calls.Load() != 3 || deliveries[0] != deliveries[2] {
		t.Errorf("%d attempts with deliveries %v, want 3 with one id", calls.Load(), deliveries)
	}
	calls.Store(10)
	err := p.Post(context.Background(), srv.URL+"/refuse", secret, pl)
	if err == nil || calls.Load() != 11 || !strings.Contains(err.Error(), "404") {
		t.Errorf("refused call: %v after %d attempts, want one attempt and the status in the error", err, calls.Load()-10)
	}
}

func TestSignature_IsHMACOfTheBody(t *testing.T) {
	// RFC 4231 test case 2.
	got := Signature([]byte("Jefe"), []byte("what do ya want for nothing?"))
	want := "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
	if got != want {
		t.Fatalf("Signature = %s, want %s", got, want)
	}
	if CheckSignature([]byte("Jefe"), []byte("what do ya want for nothing!"), want) {
		t.Fatal("a changed body passes the check")
	}
}
