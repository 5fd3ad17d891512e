package audit

import (
	"testing"
	"time"
)

// BenchmarkFileWriter is the writer goroutine's work on one core: encode,
// hash-chain and write batches of 1024 records to a FileSink (fsync per
// its 50ms interval, as the Logger would). Target: ≥200k records/s. It
// reports records/s (wall clock) and records/cpu-s (per second of the
// process's CPU time: the rate one dedicated core would reach).
func BenchmarkFileWriter(b *testing.B) {
	fs, err := NewFileSink(b.TempDir(), WithMaxBytes(1<<30))
	if err != nil {
		b.Fatal(err)
	}
	defer fs.Close()
	now := time.Now()
	ev := Event{Version: SchemaVersion, Type: TypeCall, Time: now, RequestID: "0123456789abcdef0123456789abcdef",
		TraceID: "4bf92f3577b34da6a3ce929d0e0e4736", Transport: "grpc", Method: "/bank.v1.Bank/Transfer",
		Principal: Principal{ID: "alice", Kind: "user", Roles: []string{"teller"}}, Credential: Credential{Kind: "jwt", ID: "jti-1"},
		ClientIP: "203.0.113.7", Decision: Decision{Allowed: true, Reason: "all of [bank.transfers.create] granted (role teller)",
			Required: []string{"bank.transfers.create"}, Effective: []string{"bank.accounts.read", "bank.transfers.create"},
			MatchedRoles: []string{"teller"}, BundleVersion: "2026-12-01.3"},
		Status: Status{Code: "OK"}, DurationMicros: 1234, RequestBytes: 120, ResponseBytes: 64, RequestMessages: 1, ResponseMessages: 1}
	const batch = 1024
	entries := make([]*Entry, batch)
	for i := range entries {
		entries[i] = &Entry{Event: &ev}
	}
	b.SetBytes(int64(len(appendBody(nil, &ev, new(int), new(int), new(int))) + 200))
	b.ReportAllocs()
	b.ResetTimer()
	start, lastSync, cpu := time.Now(), time.Now(), CPUTime()
	for done := 0; done < b.N; done += batch {
		n := min(batch, b.N-done)
		for _, en := range entries[:n] {
			en.encode()
		}
		if err := fs.Write(entries[:n]); err != nil {
			b.Fatal(err)
		}
		if time.Since(lastSync) >= fs.SyncInterval() {
			if err := fs.Sync(); err != nil {
				b.Fatal(err)
			}
			lastSync = time.Now()
		}
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "records/s")
	b.ReportMetric(float64(b.N)/(CPUTime()-cpu).Seconds(), "records/cpu-s")
}
