// Package crashtest holds the crash test of hotline's delivery guarantee:
// real `hotline serve` processes, messages sent from every party at once,
// nodes killed with SIGKILL at random moments and restarted, and then every
// node's store checked against the guarantee in docs/RELIABILITY.md.
//
// Run it with more kills than CI does:
//
//	go test ./crashtest -run Crash -crash.kills 200 -v
package crashtest
