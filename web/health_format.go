package web

import "context"

func passwordHint(ctx context.Context, set bool) string {
	if set {
		return T(ctx, "gespeichert; leer lassen, um es zu behalten")
	}
	return ""
}
