package main

import (
	"bufio"
	"bytes"
	"os"
	"strconv"
	"strings"
)

// rssSource names what residentBytes measures.
const rssSource = "VmRSS"

// residentBytes returns this process's resident set (VmRSS), or 0 when
// /proc cannot be read.
func residentBytes() uint64 {
	status, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(status))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}
