package store

import (
	"context"
	"database/sql"
	"fmt"
	"testing"
	"time"
)

// An import step indexes its messages for search in its own background
// turn (at most every indexEvery, like webhook commits), so the webhook
// commits between the steps do not index thousands of imported messages.
// (That a background turn commits alone: writer_low_test.go.)
func TestHistoryImportTurnIndexesItsOwnMessages(t *testing.T) {
	ctx := context.Background()
	s := openTest(t, Options{})
	n := Number{PhoneNumberID: "106540352242922", DisplayPhoneNumber: "15550783881", WABAID: "102290129340398"}
	var chunk int64
	err := s.Write(ctx, func(tx *Tx) error {
		id, _, err := tx.Insert(`INSERT INTO history_chunks(chunk_key, phone_number_id, phase, chunk_order, value, received_at)
			VALUES ('k/1/1', ?, 1, 1, '{}', 1)`, n.PhoneNumberID)
		chunk = id
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(indexEvery + 50*time.Millisecond) // the index is due
	var msgs []HistoryMessage
	for i := range 5 {
		msgs = append(msgs, HistoryMessage{Customer: Party{WaID: "4915112349031"}, WAMID: fmt.Sprintf("wamid.idx.%d", i), Type: "text",
			Text: sql.NullString{String: "zqimportcanary", Valid: true}, TS: 1750000000 + int64(i)})
	}
	imported, _, err := s.ImportHistoryBatch(ctx, HistoryBatch{ChunkID: chunk, Number: n, Handled: 5, Messages: msgs, Finished: true, Now: 1750000100})
	if err != nil || imported != 5 {
		t.Fatalf("imported %d, %v", imported, err)
	}
	// Read at once, before the idle writer could catch the index up.
	var behind bool
	if err := s.rdb.QueryRow("SELECT (SELECT max(id) FROM messages) > watermark FROM fts_state").Scan(&behind); err != nil {
		t.Fatal(err)
	}
	if behind {
		t.Error("the import step left its messages for a webhook commit to index")
	}
	var hits int
	if err := s.rdb.QueryRow("SELECT count(*) FROM messages_fts WHERE messages_fts MATCH 'zqimportcanary'").Scan(&hits); err != nil || hits != 5 {
		t.Errorf("%d imported messages searchable, want 5 (%v)", hits, err)
	}
}
