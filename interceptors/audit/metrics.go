package audit

import "github.com/prometheus/client_golang/prometheus"

var (
	descQueueDepth = prometheus.NewDesc("portcullis_audit_queue_depth",
		"Audit records waiting for the writer.", nil, nil)
	descQueueCap = prometheus.NewDesc("portcullis_audit_queue_capacity",
		"Size of the audit queue.", nil, nil)
	descDropped = prometheus.NewDesc("portcullis_audit_records_dropped_total",
		"Audit records dropped before any sink saw them (queue full under the drop policy, or logger closed).", nil, nil)
	descWritten = prometheus.NewDesc("portcullis_audit_records_written_total",
		"Audit records stored by a sink, gap records included.", []string{"sink"}, nil)
	descErrors = prometheus.NewDesc("portcullis_audit_write_errors_total",
		"Failed writes and syncs of an audit sink.", []string{"sink"}, nil)
	descLost = prometheus.NewDesc("portcullis_audit_sink_records_lost_total",
		"Audit records a failing sink never got (its retry buffer overflowed); each loss is also a gap record in that sink.", []string{"sink"}, nil)
	descHealthy = prometheus.NewDesc("portcullis_audit_sink_healthy",
		"1 when the sink's last write and sync succeeded, else 0 (required methods then fail closed).", []string{"sink"}, nil)
)

// Describe implements prometheus.Collector.
func (l *Logger) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descQueueDepth, descQueueCap, descDropped, descWritten, descErrors, descLost, descHealthy} {
		ch <- d
	}
}

// Collect implements prometheus.Collector: portcullis_audit_queue_depth,
// portcullis_audit_queue_capacity, portcullis_audit_records_dropped_total,
// and per sink portcullis_audit_records_written_total,
// portcullis_audit_write_errors_total,
// portcullis_audit_sink_records_lost_total and portcullis_audit_sink_healthy.
func (l *Logger) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(descQueueDepth, prometheus.GaugeValue, float64(len(l.ch)))
	ch <- prometheus.MustNewConstMetric(descQueueCap, prometheus.GaugeValue, float64(cap(l.ch)))
	ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(l.dropped.Load()))
	for _, ss := range l.sinks {
		ch <- prometheus.MustNewConstMetric(descWritten, prometheus.CounterValue, float64(ss.written.Load()), ss.name)
		ch <- prometheus.MustNewConstMetric(descErrors, prometheus.CounterValue, float64(ss.errors.Load()), ss.name)
		ch <- prometheus.MustNewConstMetric(descLost, prometheus.CounterValue, float64(ss.lost.Load()), ss.name)
		healthy := 1.0
		if ss.failingFlag.Load() {
			healthy = 0
		}
		ch <- prometheus.MustNewConstMetric(descHealthy, prometheus.GaugeValue, healthy, ss.name)
	}
}
