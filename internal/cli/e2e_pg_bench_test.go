package cli

import (
	"testing"
	"time"
)

// BenchmarkFailover measures, per op, the time from kill -9 of the active
// daemon on a PostgreSQL state to the standby's "took over" line: the
// killed session's end (the kernel closes its socket, the server sees it
// at once) plus at most one standby poll (DefaultStandbyPoll, 1 s). The
// daemons are the built binary; one spec, already ordered, keeps cycles
// short.
func BenchmarkFailover(b *testing.B) {
	_, env := startFake(b)
	_, url, env := pgState(b, env)
	dir := b.TempDir()
	writeSpecs(b, dir, 1)
	args := []string{"--dir", dir, "--state", url, "--schedule", "@every 1h"}
	active := startDaemon(b, env, args...)
	active.waitFor("the first daemon's start cycle", 1, cycleDone)
	var total time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		standby := startDaemon(b, env, args...)
		standby.waitFor("the standby", 1, msg("standing by"))
		b.StartTimer()
		killed := time.Now()
		active.cmd.Process.Kill()
		standby.waitFor("the takeover", 1, msg("took over"))
		took := time.Since(killed)
		b.StopTimer()
		total += took
		standby.waitFor("the takeover cycle", 1, cycleDone)
		active = standby
	}
	b.ReportMetric(total.Seconds()/float64(b.N), "s/failover")
}
