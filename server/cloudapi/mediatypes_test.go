package cloudapi

import "testing"

func TestSniffMIME(t *testing.T) {
	for _, c := range []struct {
		head     []byte
		name     string
		want     string
		wantKind bool
	}{
		{[]byte{0xff, 0xd8, 0xff, 0xe0, 0, 0x10, 'J', 'F', 'I', 'F'}, "x.bin", "image/jpeg", true},
		{[]byte("%PDF-1.7\n"), "", "application/pdf", true},
		{[]byte("OggS\x00\x02"), "voice", "audio/ogg", true},
		{[]byte("PK\x03\x04rest-of-zip"), "Angebot.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", true},
		{[]byte("GIF89a\x01\x00"), "bild.gif", "image/gif", false},
		{[]byte{0, 1, 2, 3}, "", "application/octet-stream", false},
	} {
		got := SniffMIME(c.head, c.name)
		if got != c.want || UploadSupported(got) != c.wantKind {
			t.Errorf("SniffMIME(%q, %q) = %q (supported %v), want %q", c.head, c.name, got, UploadSupported(got), c.want)
		}
	}
	if !IsMediaKind(" Image ") || IsMediaKind("image/jpeg") || IsMediaKind("") {
		t.Error("IsMediaKind")
	}
}

func FuzzSniffMIME(f *testing.F) {
	f.Add([]byte{0xff, 0xd8, 0xff}, "a.jpg")
	f.Add([]byte("PK\x03\x04"), "b.xlsx")
	f.Add([]byte(""), ".")
	f.Fuzz(func(t *testing.T, head []byte, name string) {
		got := SniffMIME(head, name)
		if got == "" {
			t.Fatalf("empty type for %q %q", head, name)
		}
	})
}
