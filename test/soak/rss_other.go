//go:build !linux

package main

import "runtime/metrics"

// rssSource names what residentBytes measures: without /proc, the memory
// the Go runtime has mapped, which bounds what it can keep resident.
const rssSource = "Go runtime mapped memory"

// residentBytes returns the memory the Go runtime has mapped from the
// operating system.
func residentBytes() uint64 {
	s := []metrics.Sample{{Name: "/memory/classes/total:bytes"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}
