package replica

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	takeovers, failovers, renewFailures prometheus.Counter
	forwarded                           *prometheus.CounterVec
}

func newMetrics(r *Replica, reg prometheus.Registerer) *metrics {
	m := &metrics{
		takeovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_replica_takeovers_total", Help: "Times this replica acquired the lease and became the party's writer.",
		}),
		failovers: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_replica_failovers_total", Help: "Takeovers from another replica, whose lease lapsed or was released.",
		}),
		renewFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_replica_renew_failures_total", Help: "Lease renewals that failed (the database did not answer in time).",
		}),
		forwarded: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_replica_forwarded_requests_total", Help: "Operator requests this standby forwarded to the writer, by method and outcome.",
		}, []string{"method", "outcome"}),
	}
	if reg == nil {
		return m
	}
	reg.MustRegister(m.takeovers, m.failovers, m.renewFailures, m.forwarded,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hotline_replica_active", Help: "1 while this replica is the party's writer, 0 while it is a standby.",
		}, func() float64 {
			if r.Role() == Active {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hotline_replica_epoch", Help: "The lease's epoch as this replica last read it: the takeovers so far.",
		}, func() float64 { return float64(r.Status().Epoch) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "hotline_replica_lease_age_seconds", Help: "How long ago the writer last renewed its lease, as this replica knows it.",
		}, func() float64 { return r.Status().LeaseAge }))
	return m
}
