package node

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

type metrics struct {
	reg                 *prometheus.Registry
	entriesStored       *prometheus.CounterVec
	entriesReceived     *prometheus.CounterVec
	entriesRejected     *prometheus.CounterVec
	equivocations       prometheus.Counter
	storeErrors         prometheus.Counter
	commitSeconds       prometheus.Histogram
	batchEntries        prometheus.Histogram
	peerUp              *prometheus.GaugeVec
	peerReached         *prometheus.CounterVec
	peerBacklog         *prometheus.GaugeVec
	peerIncoming        *prometheus.GaugeVec
	peerSilent          *prometheus.GaugeVec
	endpointRTT         *prometheus.GaugeVec
	heartbeats          *prometheus.CounterVec
	checkpointsSigned   prometheus.Counter
	cosignatures        *prometheus.CounterVec
	overdue             *prometheus.GaugeVec
	deadlineLook        prometheus.Histogram
	deadlineEvaluations prometheus.Counter
	ladderSteps         *prometheus.CounterVec
	quotaRefused        *prometheus.CounterVec
	quotaAlarms         *prometheus.CounterVec
	signerUp            prometheus.Gauge
	signerFailures      prometheus.Counter
}

func newMetrics(reg *prometheus.Registry, n *Node) *metrics {
	m := &metrics{
		reg: reg,
		entriesStored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_entries_stored_total", Help: "Entries durably stored, by kind and origin (local or peer).",
		}, []string{"kind", "origin"}),
		entriesReceived: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_entries_received_total", Help: "Entries received from each peer, before verification.",
		}, []string{"peer"}),
		entriesRejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_entries_rejected_total", Help: "Entries from peers refused, by peer and reason.",
		}, []string{"peer", "reason"}),
		equivocations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_equivocations_total", Help: "A party contradicted itself: two signed entries with one seq, or a signed checkpoint contradicting its entries or another checkpoint (alarm).",
		}),
		checkpointsSigned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_checkpoints_signed_total", Help: "Checkpoints this node signed of its own feeds.",
		}),
		cosignatures: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_cosignatures_total", Help: "Checkpoint cosignatures given to and received from each peer.",
		}, []string{"peer", "direction"}),
		storeErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_store_commit_errors_total", Help: "Store transactions that failed and were discarded.",
		}),
		commitSeconds: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hotline_store_commit_seconds", Help: "Time to commit (and fsync) one write batch.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}),
		batchEntries: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hotline_store_batch_entries", Help: "Entries per committed write batch.",
			Buckets: prometheus.ExponentialBuckets(1, 2, 12),
		}),
		peerReached: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_peer_backoff_cut_total", Help: "Times a peer reached this node while it was backing off from that peer, so that it tried again at once.",
		}, []string{"peer"}),
		peerUp: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_peer_up", Help: "1 if the last sync with the peer succeeded.",
		}, []string{"peer"}),
		peerBacklog: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_peer_backlog_entries", Help: "Entries the peer lacks, counted from its heads.",
		}, []string{"peer"}),
		peerIncoming: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_peer_incoming_entries", Help: "Entries the peer holds that this node lacks, as far as known (catch-up to come).",
		}, []string{"peer"}),
		peerSilent: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_peer_silent", Help: "1 while the peer has not been heard on any endpoint for longer than the silence threshold (alarm).",
		}, []string{"peer"}),
		endpointRTT: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_peer_endpoint_rtt_seconds", Help: "Round trip of the last successful heartbeat to each endpoint of each peer.",
		}, []string{"peer", "endpoint"}),
		overdue: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "hotline_overdue_entries", Help: "Messages and call requests past their deadline without an answer, by role: sent (this party waits) or received (this party owes the answer).",
		}, []string{"role"}),
		deadlineLook: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "hotline_deadline_look_seconds", Help: "Time the deadline watcher took to look at the open watches; after a look, writes wait at least as long before the next.",
			Buckets: prometheus.ExponentialBuckets(0.001, 2, 16),
		}),
		deadlineEvaluations: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_deadline_evaluations_total", Help: "Open watches the deadline watcher read again from the store: those writes touched (an answer, a receipt, a ladder step), never every open watch at each look.",
		}),
		ladderSteps: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_ladder_steps_total", Help: "Escalation and reminder ladder steps run, by ladder, action and outcome (ok, failed or skipped).",
		}, []string{"ladder", "action", "outcome"}),
		heartbeats: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_heartbeats_total", Help: "Heartbeats sent to each endpoint of each peer, by result (ok or failed).",
		}, []string{"peer", "endpoint", "result"}),
		quotaRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_quota_refused_total", Help: "Input refused by one of this node's limits, by peer and limit: entries, whole requests, connections and evidence records.",
		}, []string{"peer", "limit"}),
		quotaAlarms: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "hotline_quota_alarms_total", Help: "Alarms raised because a party reached a limit (one per party and limit per day).",
		}, []string{"party", "limit"}),
		signerUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "hotline_signer_up", Help: "1 while the party key's signer (the key file, or an ssh-agent) answers, 0 after it failed.",
		}),
		signerFailures: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "hotline_signer_failures_total", Help: "Signatures the party key's signer failed to make (an ssh-agent gone, a token removed).",
		}),
	}
	m.signerUp.Set(1)
	reg.MustRegister(m.signerUp, m.signerFailures)
	reg.MustRegister(m.checkpointsSigned, m.cosignatures, m.overdue, m.deadlineLook, m.deadlineEvaluations, m.ladderSteps, m.quotaRefused, m.quotaAlarms)
	reg.MustRegister(m.peerIncoming, m.peerSilent, m.endpointRTT, m.heartbeats)
	reg.MustRegister(m.entriesStored, m.entriesReceived, m.entriesRejected, m.equivocations, m.storeErrors,
		m.commitSeconds, m.batchEntries, m.peerUp, m.peerReached, m.peerBacklog)
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
