//go:build !linux

package main

import "errors"

// usageMeasured reports that readUsage cannot measure processes here: it
// reads /proc, which only Linux has.
const usageMeasured = false

// readUsage returns a zero usage and an error: process CPU time and peak
// resident set are measured on Linux only.
func readUsage(int) (usage, error) {
	return usage{}, errors.New("process usage is measured on Linux only")
}
