package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"text/tabwriter"

	"github.com/scim-bridge/scim-bridge/config"
)

// checkConfigCmd prints every setting (secrets as <secret>) and every
// problem at once; it exits 1 when the configuration is not usable.
func checkConfigCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	file := fs.String("config", "", "optional YAML configuration file (default $SCIM_BRIDGE_CONFIG)")
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
	// Load keeps the default in place of a value it cannot parse, so the
	// rest is still worth validating: report every problem at once.
	if err := errors.Join(loadErr, cfg.Validate()); err != nil {
		fmt.Fprintf(stdout, "\nproblems:\n%v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, "\nconfiguration OK")
	return 0
}
