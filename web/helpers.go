package web

func boolAttr(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func current(b bool) string {
	if b {
		return "page"
	}
	return "false"
}

func boolStr(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

func lastID(t ThreadVM) string {
	if len(t.Messages) == 0 {
		return "0"
	}
	return i64(t.Messages[len(t.Messages)-1].ID)
}

func orDash(s string) string {
	if s == "" {
		return "–"
	}
	return s
}
