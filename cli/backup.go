package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/pforte/pforte/jobs"
	"github.com/pforte/pforte/store"
)

// readPassphrase takes the backup passphrase from --backup-passphrase-file
// (preferred: not visible in ps) or --backup-passphrase / its variable.
func readPassphrase(inline, file string) (string, error) {
	if file == "" {
		return inline, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", settingError("backup-passphrase-file", file, err.Error())
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// cmdBackup writes a consistent, checked, optionally encrypted snapshot.
func cmdBackup(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	out := fs.String("out", "", "file to write (default: <data-dir>/backups/pforte-<time>.db[.age])")
	pass := fs.String("backup-passphrase", "", "encrypt with this passphrase (age); prefer the variable or a file")
	passFile := fs.String("backup-passphrase-file", "", "read the passphrase from this file")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	p, err := readPassphrase(*pass, *passFile)
	if err != nil {
		return err
	}
	if p != "" && len(p) < 12 {
		return settingError("backup-passphrase", "…", "use at least 12 characters")
	}
	opts := store.BackupOptions{}
	if p != "" {
		opts.Seal = jobs.SealWithPassphrase(p, 0)
	}
	if *out == "" {
		*out = filepath.Join(backupDirOf(*dataDir), store.BackupName(time.Now(), p != ""))
	}
	st, err := store.Open(ctx, *dataDir, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	info, err := st.Backup(ctx, *out, opts)
	if err != nil {
		return err
	}
	sealed := "not encrypted"
	if info.Sealed {
		sealed = "encrypted"
	}
	fmt.Fprintf(stdout, "%s: %s, %s, integrity %s, took %s\n", info.Path, humanBytes(info.Size), sealed, info.Integrity, info.Took.Round(time.Millisecond))
	fmt.Fprintln(stderr, "The backup holds the database; media files stay in <data-dir>/media (named by their hash) and need a file-level backup of their own.")
	return nil
}

// cmdRestore replaces the database with a backup and re-applies erasures
// and the data protection decisions made since (store.Restore).
func cmdRestore(ctx context.Context, args []string, env envLookup, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(env), "data directory")
	from := fs.String("from", "", "backup file to restore (required)")
	pass := fs.String("backup-passphrase", "", "passphrase of an encrypted backup")
	passFile := fs.String("backup-passphrase-file", "", "read the passphrase from this file")
	var rc replicaConfig
	rc.flags(fs)
	fromReplica := fs.String("from-replica", "", "restore from this off-site replica URL instead of a backup file (onto an empty --data-dir)")
	at := fs.String("timestamp", "", "with --from-replica: the point in time to restore (RFC 3339); default the newest state")
	if err := parseFlags(fs, args, env); err != nil {
		return err
	}
	if *fromReplica != "" {
		if *from != "" {
			return settingError("from", *from, "give either --from or --from-replica")
		}
		rc.URL = *fromReplica
		return restoreFromReplica(ctx, *dataDir, &rc, *at, stdout, stderr)
	}
	if *from == "" {
		return settingError("from", *from, "give the backup file (or --from-replica URL)")
	}
	if _, err := os.Stat(*from); err != nil {
		return settingError("from", *from, "cannot read it")
	}
	p, err := readPassphrase(*pass, *passFile)
	if err != nil {
		return err
	}
	opts := store.RestoreOptions{Actor: store.ActorCLI}
	if p != "" {
		opts.Unseal = jobs.UnsealWithPassphrase(p)
	}
	res, err := store.Restore(ctx, *dataDir, *from, opts)
	if err != nil {
		if errors.Is(err, store.ErrInUse) {
			return errors.New("pforte is running on this data directory; stop it first")
		}
		return err
	}
	fmt.Fprintf(stdout, "restored %s into %s; %d erased customers were in the backup and were erased again (%d tombstones known); %d legal holds, releases, restrictions and lifts made since the backup were made again\n",
		*from, *dataDir, res.Reerased, res.Tombstones, res.Decisions)
	if res.Previous != "" {
		fmt.Fprintf(stdout, "the database it replaced is kept as %s; delete it once the restore is verified, it holds personal data\n", res.Previous)
	}
	return nil
}
