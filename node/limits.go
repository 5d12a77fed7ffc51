package node

import (
	"errors"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/hotline-project/hotline/entry"
	"github.com/hotline-project/hotline/peer"
	"github.com/hotline-project/hotline/quota"
)

// refuse answers a peer's entry that will not be stored: a quota refusal
// is counted (it is not misbehaviour, and it raises one alarm, not a log
// line per entry); anything else is logged, counted and kept as evidence.
func (n *Node) refuse(from string, e *entry.Entry, err error) peer.Rejection {
	rj := peer.Rejection{ID: e.ID(), Error: err.Error(), Reason: rejectReason(err)}
	var r *rejection
	if errors.As(err, &r) && r.reason == peer.ReasonQuota {
		rj.RetryAfterMS = r.retryAfter.Milliseconds()
		n.metrics.quotaRefused.WithLabelValues(from, r.limit).Inc()
		n.metrics.entriesRejected.WithLabelValues(from, r.reason).Inc()
		return rj
	}
	n.reject(from, e, err)
	return rj
}

// admit takes n entries from peer's rate before they are verified; a
// refusal is a *peer.BusyError, which the peer link answers 429.
func (n *Node) admit(from string, count int) error {
	err := n.meter.AdmitEntries(from, count)
	var ex *quota.Exceeded
	if !errors.As(err, &ex) {
		return err
	}
	n.metrics.quotaRefused.WithLabelValues(from, ex.Limit).Inc()
	n.raiseQuotaAlarms()
	return &peer.BusyError{RetryAfter: ex.RetryAfter, Msg: ex.Error()}
}

// PeerRefused is told by the peer link of a request or connection it
// refused by its bounds (see peer.ServerOptions).
func (n *Node) PeerRefused(party, bound string) {
	n.metrics.quotaRefused.WithLabelValues(party, bound).Inc()
	if party != "" {
		n.logs.Warn(party, "peer request refused: too many in progress", "peer", party, "bound", bound)
	} else {
		n.logs.Warn("", "peer connection refused: the listener has as many as it takes", "bound", bound)
	}
}

// raiseQuotaAlarms raises one alarm for each limit a party reached for
// the first time today.
func (n *Node) raiseQuotaAlarms() {
	for _, k := range n.meter.Refused() {
		limit, party, _ := strings.Cut(k, "/")
		detail := fmt.Sprintf("%s reached this node's %s limit; what goes past it is refused until it falls below (hotline status shows each party's usage)", party, limit)
		n.log.Warn("QUOTA REACHED", "party", party, "limit", limit)
		n.metrics.quotaAlarms.WithLabelValues(party, limit).Inc()
		n.events.publish(Event{Type: EventAlarm, Author: party, Detail: detail})
	}
}

// registerUsageMetrics exports each pinned party's store usage, and the
// live event streams.
func (n *Node) registerUsageMetrics() {
	n.metrics.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_event_streams", Help: "Live event streams open (limits: api.max_streams, api.max_streams_per_operator)."},
			func() float64 { open, _ := n.events.streams(); return float64(open) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "hotline_event_streams_cut_total", Help: "Live event streams cut because their reader fell behind."},
			func() float64 { _, cut := n.events.streams(); return float64(cut) }))
	for _, party := range n.Peers() {
		n.metrics.reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_party_store_bytes", Help: "Bytes of the party's entries in this node's store, in all (limit: quota.peer_store_share).",
				ConstLabels: prometheus.Labels{"party": party}}, func() float64 { return float64(n.meter.Usage(party).StoreBytes) }),
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "hotline_party_bytes_today", Help: "Bytes of the party's entries stored today, UTC (limit: quota.peer_mb_per_day).",
				ConstLabels: prometheus.Labels{"party": party}}, func() float64 { return float64(n.meter.Usage(party).TodayBytes) }))
	}
}

// logLinesPerMinute is how many warnings about one peer's input are
// logged a minute.
const logLinesPerMinute = 10
