package conference

import "github.com/prometheus/client_golang/prometheus"

// metrics of a node's calls.
type metrics struct {
	rooms   prometheus.Gauge
	legs    *prometheus.GaugeVec
	packets *prometheus.CounterVec
	in, out prometheus.Counter
}

func newMetrics(reg prometheus.Registerer, s *Service) (*metrics, error) {
	m := &metrics{
		rooms: prometheus.NewGauge(prometheus.GaugeOpts{Name: "hotline_call_rooms",
			Help: "Calls this node holds now (bounded by call.max_rooms)."}),
		legs: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "hotline_call_legs",
			Help: "Media connections of the calls held now: participant (this party's people) or link (another party's node)."}, []string{"kind"}),
		packets: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "hotline_call_packets_total",
			Help: "Audio packets received (in) and sent (out) by this node's calls."}, []string{"direction"}),
	}
	for _, c := range []prometheus.Collector{m.rooms, m.legs, m.packets} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.in, m.out = m.packets.WithLabelValues("in"), m.packets.WithLabelValues("out")
	m.legs.WithLabelValues("participant")
	m.legs.WithLabelValues("link")
	return m, nil
}

func (m *metrics) packetIn()  { m.in.Inc() }
func (m *metrics) packetOut() { m.out.Inc() }
