package main

import (
	"testing"
	"time"

	"github.com/scim-bridge/scim-bridge/upstream"
)

// TestDrainEstimate: the planned calls first use the room ordinary calls
// have left in the window now, then take whole windows of limit-reserved.
func TestDrainEstimate(t *testing.T) {
	const w = 5 * time.Minute
	tests := []struct {
		name    string
		planned int
		put     upstream.BudgetUse
		limited bool
		want    time.Duration
	}{
		{name: "nothing planned", planned: 0, put: upstream.BudgetUse{Used: 144, Limit: 160, Reserved: 16}, limited: true, want: 0},
		{name: "fits in the room left", planned: 10, put: upstream.BudgetUse{Used: 100, Limit: 160, Reserved: 16}, limited: true, want: 0},
		{name: "exactly fills the room left", planned: 44, put: upstream.BudgetUse{Used: 100, Limit: 160, Reserved: 16}, limited: true, want: 0},
		{name: "one over the room left", planned: 45, put: upstream.BudgetUse{Used: 100, Limit: 160, Reserved: 16}, limited: true, want: w},
		{name: "room used up", planned: 144, put: upstream.BudgetUse{Used: 144, Limit: 160, Reserved: 16}, limited: true, want: w},
		{name: "room used up, one window and one call", planned: 145, put: upstream.BudgetUse{Used: 144, Limit: 160, Reserved: 16}, limited: true, want: 2 * w},
		{name: "the reserve in use too", planned: 10, put: upstream.BudgetUse{Used: 160, Limit: 160, Reserved: 16}, limited: true, want: w},
		{name: "a large backlog", planned: 1000, put: upstream.BudgetUse{Used: 0, Limit: 160, Reserved: 16}, limited: true, want: 6 * w}, // 144 now, 856 in 6 windows
		{name: "no reserve", planned: 161, put: upstream.BudgetUse{Used: 0, Limit: 160}, limited: true, want: w},
		{name: "PUT not limited", planned: 1000, limited: false, want: 0},
	}
	for _, tt := range tests {
		if got := drainEstimate(tt.planned, tt.put, tt.limited, w); got != tt.want {
			t.Errorf("%s: drainEstimate(%d, %+v) = %v, want %v", tt.name, tt.planned, tt.put, got, tt.want)
		}
	}
}
