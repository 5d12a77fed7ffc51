package replica

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Whatever methods clients send, the forwarded-requests metric keeps a
// bounded set of label values.
func TestForwarded_MethodLabelIsBounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	r := New(Config{Registry: reg})
	for i := range 100 {
		r.Forwarded(strings.Repeat("X", i+1), "forwarded")
	}
	r.Forwarded("POST", "forwarded")
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, mf := range mfs {
		if mf.GetName() == "hotline_replica_forwarded_requests_total" {
			n = len(mf.GetMetric())
		}
	}
	if n != 2 {
		t.Fatalf("%d label sets after 100 made-up methods and one POST; want 2 (other, POST)", n)
	}
}
