package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/scim-bridge/scim-bridge/config"
	"github.com/scim-bridge/scim-bridge/mapping"
	"github.com/scim-bridge/scim-bridge/upstream"
)

// checkConfigCmd prints every setting (secrets as <secret>, URLs with only
// their password masked), every problem at once, and a warning for each
// SCIM_BRIDGE_ variable that is not a setting. With -probe it then
// connects: to the store, and to UiPath for a token and a read of users
// and groups. It exits 1 when the configuration is not usable (or, with
// -probe, when a check fails). Without -probe it connects nowhere.
func checkConfigCmd(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "optional YAML configuration file (default $SCIM_BRIDGE_CONFIG)")
	probe := fs.Bool("probe", false, "also connect to the store and UiPath: get a token, compare its scopes, read users and groups")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, loadErr := config.Load(os.Getenv, *file)
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SETTING\tVALUE\t")
	for _, e := range cfg.Entries() {
		v := e.Value
		if e.Default {
			v += " (default)"
		}
		fmt.Fprintf(tw, "%s\t%s\t\n", e.Name, v)
	}
	tw.Flush()
	if unknown := config.UnknownVars(os.Environ()); len(unknown) > 0 {
		fmt.Fprintln(stdout, "\nwarnings:")
		for _, name := range unknown {
			fmt.Fprintf(stdout, "  %s\n", unknownVarNote(name))
		}
	}
	// Load keeps the default in place of a value it cannot parse, so the
	// rest is still worth validating: report every problem at once.
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		fmt.Fprintf(stdout, "\nproblems:\n%v\n", err)
		if *probe {
			fmt.Fprintln(stdout, "\nprobe not run: fix the problems first")
		}
		return 1
	}
	fmt.Fprintln(stdout, "\nwhat the membership settings cost:")
	for _, line := range costNotes(cfg) {
		fmt.Fprintln(stdout, "  "+line)
	}
	if *probe && !writeProbe(stdout, probeBridge(ctx, cfg, nil)) {
		fmt.Fprintln(stdout, "\nconfiguration valid, but the bridge cannot serve: see the fixes above")
		return 1
	}
	fmt.Fprintln(stdout, "\nconfiguration OK")
	return 0
}

// unknownVarNote is the warning for a SCIM_BRIDGE_ variable that is not a
// setting: it names the variable, never its value.
func unknownVarNote(name string) string {
	return name + " is not a setting of scim-bridge and is ignored (a typo?)"
}

// costNotes says, for the configured membership writes and strategy, what
// a membership change costs in UiPath calls and in the IdP's wait.
func costNotes(cfg config.Config) []string {
	put := cfg.Budget["PUT"]
	reserved := upstream.ReservedCalls(cfg.Budget, cfg.DeprovisionReserve)["PUT"]
	var notes []string
	switch cfg.MembershipWrites {
	case mapping.WritesSync:
		notes = append(notes, "writes sync: the IdP waits for UiPath; each request is planned on its own, so an IdP's many small PATCHes of one group cost one call each (or more)")
	default:
		notes = append(notes, "writes queued: the IdP is answered once the change is stored; the scheduler plans over every pending change, so one group's PATCHes go out as one call")
	}
	switch cfg.MembershipStrategy {
	case mapping.StrategyUser:
		notes = append(notes, "strategy user: one PUT /User per affected user (a 2,000-member group costs 2,000 calls)")
	case mapping.StrategyGroup:
		notes = append(notes, "strategy group: one PUT /Group per affected group (one user joining 5 groups costs 5 calls)")
	default:
		notes = append(notes, "strategy auto: the fewest calls, each change on its user's or its group's call (a minimum vertex cover)")
	}
	notes = append(notes, fmt.Sprintf("budget: %d PUTs per %s for membership changes; %d more only for leavers (deprovision reserve)", put-reserved, cfg.BudgetWindow, reserved))
	return notes
}
