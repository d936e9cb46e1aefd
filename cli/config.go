package cli

import (
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
)

// envLookup reads the environment; tests pass their own.
type envLookup func(string) (string, bool)

// envName maps a flag name to its variable: --http-addr → PFORTE_HTTP_ADDR.
func envName(flagName string) string {
	return "PFORTE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// parseFlags parses args and then fills every flag not given on the command
// line from its PFORTE_* variable, so that flags win over the environment.
func parseFlags(fs *flag.FlagSet, args []string, env envLookup) error {
	fs.SetOutput(io.Discard)
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			fs.SetOutput(os.Stdout)
			fs.PrintDefaults()
			return errUsage
		}
		return fmt.Errorf("%v (see %s -h)", err, fs.Name())
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q (see %s -h)", fs.Arg(0), fs.Name())
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		if set[f.Name] || err != nil {
			return
		}
		if v, ok := env(envName(f.Name)); ok {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("invalid %s=%q: %v", envName(f.Name), v, e)
			}
		}
	})
	return err
}

// defaultDataDir is where data lives unless --data-dir says otherwise:
// systemd's StateDirectory when set, else ./pforte-data.
func defaultDataDir(env envLookup) string {
	if d, ok := env("STATE_DIRECTORY"); ok && d != "" {
		// systemd may list several directories separated by colons.
		return strings.Split(d, ":")[0]
	}
	return "./pforte-data"
}

// settingError names the flag and its variable, so one line tells the admin
// what to fix wherever they set it.
func settingError(name, value string, why string) error {
	return fmt.Errorf("invalid --%s (%s) %q: %s", name, envName(name), value, why)
}

func checkAddr(name, addr string) error {
	if addr == "" {
		return nil
	}
	if _, port, err := net.SplitHostPort(addr); err != nil {
		return settingError(name, addr, "want host:port, e.g. 127.0.0.1:8080")
	} else if port == "" {
		return settingError(name, addr, "missing port")
	}
	return nil
}
