package cli

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"

	"github.com/pforte/pforte/store"
)

func cmdVersion(w io.Writer) error {
	tags := "(none)"
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "-tags" && s.Value != "" {
				tags = s.Value
			}
		}
	}
	fmt.Fprintf(w, "pforte %s\ncommit  %s\ntags    %s\nsqlite  %s\ngo      %s %s/%s\n",
		version, commit, tags, store.SQLiteVersion(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
