// Package cli is the pforte command: subcommands, flags and environment,
// and the wiring of the gateway's parts with ordered start and shutdown.
// It is the only package that puts the others together.
package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Set at build time with -ldflags "-X github.com/pforte/pforte/cli.version=...".
var (
	version = "dev"
	commit  = "unknown"
)

// Main runs the command line args until it is done or interrupted and
// returns the process exit code.
func Main(args []string) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdin, os.Stdout, os.Stderr)
}

// errUsage marks errors that were already explained to the user.
var errUsage = errors.New("usage")

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if !cgoEnabled {
		fmt.Fprintln(stderr, "pforte: this binary was built without cgo, so SQLite cannot work; rebuild with CGO_ENABLED=1 (see README)")
		return 1
	}
	cmd := "serve"
	if len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-' {
		cmd, args = args[0], args[1:]
	}
	env := envLookup(os.LookupEnv)
	var err error
	switch cmd {
	case "serve":
		err = cmdServe(ctx, args, env, stdout, stderr)
	case "apikey":
		err = cmdAPIKey(ctx, args, env, stdout, stderr)
	case "fanout":
		err = cmdFanout(ctx, args, env, stdin, stdout, stderr)
	case "version":
		err = cmdVersion(stdout)
	case "user":
		err = cmdUser(ctx, args, env, stdin, stdout, stderr)
	case "export":
		err = cmdExport(ctx, args, env, stdout, stderr)
	case "erase":
		err = cmdErase(ctx, args, env, stdout, stderr)
	case "retention":
		err = cmdRetention(ctx, args, env, stdout, stderr)
	case "backup":
		err = cmdBackup(ctx, args, env, stdout, stderr)
	case "restore":
		err = cmdRestore(ctx, args, env, stdout, stderr)
	case "records":
		err = cmdRecords(ctx, args, env, stdout, stderr)
	case "simulate":
		err = cmdSimulate(ctx, args, env, stdout, stderr)
	case "doctor":
		err = cmdDoctor(ctx, args, env, stdout, stderr)
	case "replicate":
		err = cmdReplicate(ctx, args, env, stdin, stderr)
	case "replica":
		err = cmdReplica(ctx, args, env, stdout, stderr)
	case "standby":
		err = cmdStandby(ctx, args, env, stdout, stderr)
	case "promote":
		err = cmdPromote(ctx, args, env, stdout, stderr)
	case "healthcheck":
		err = cmdHealthcheck(ctx, args, env, stdout)
	case "templates":
		err = cmdTemplates(ctx, args, env, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "pforte: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errUsage):
		return 2
	default:
		fmt.Fprintf(stderr, "pforte: %v\n", err)
		return 1
	}
}

const usage = `Usage: pforte <command> [flags]

Commands:
  serve                      run the gateway (default)
  serve --demo               run the gateway on generated secrets, for a first look
  apikey create --name N     create an API key for the internal API (printed once)
  user add --email E --role R  create a panel user (admin, agent or auditor)
  user reset-password --email E
                             end a user's sessions and print a one-time link to set a new
                             password (or read one from stdin with --stdin)
  simulate                   the Cloud API simulator: fake Graph API and customer webhooks
  doctor                     check the installation (DNS, ports, certificate, data dir, Meta token, clock)
  healthcheck                exit 0 if the running gateway answers on its internal listener
  fanout list|add|replay     forward deliveries to your own systems (see "pforte fanout help")
  export --contact ID --out FILE.zip
                             Art. 15/20 export of one customer (JSON, CSV, media, summary)
  erase --contact ID --yes   Art. 17 erasure of one customer (restricted while a legal hold lasts)
  retention run [--dry-run]  apply the retention policies now, or list what would go
  templates sync             list every account's message templates from Meta now
  backup [--out FILE]        consistent, checked snapshot of the database (encrypted with a passphrase)
  restore --from FILE        replace the database with a backup; erasures since are applied again
  restore --from-replica URL [--timestamp T] --data-dir D
                             restore the off-site replica (database, media, keys) onto an empty data dir
  replica keygen|status      encryption key and state of the off-site replica (see docs/replication.md)
  standby --from-replica URL --data-dir D
                             keep D a current copy of the replica (a second machine)
  promote --data-dir D       stop the standby on D and make its copy the database
  records [--format json]    the record of processing activities (Art. 30) from the live settings
  version                    print version, commit, build tags and SQLite version

Every flag can also be set as PFORTE_<FLAG_NAME> in the environment;
flags win. Run "pforte <command> -h" for a command's flags.
`
