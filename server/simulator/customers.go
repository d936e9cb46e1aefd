package simulator

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"io"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pforte/pforte/server/cloudapi"
)

// Customer is a fictional WhatsApp user.
type Customer struct {
	WaID   string // digits; empty for a username-only user
	UserID string // business-scoped user id
	Name   string
}

func (c Customer) key() string {
	if c.WaID != "" {
		return c.WaID
	}
	return c.UserID
}

// Names of several generations and regions (Korbinian and Huber from
// Bavaria, Fiete and Janßen from the north), with umlauts and names of
// families who came from elsewhere. 31 first and 29 last names: both
// primes, so the pairs Customers draws repeat only after 899 customers.
var firstNames = []string{"Ursula", "Jürgen", "Hildegard", "Günter", "Renate", "Wolfgang", "Sabine", "Thomas", "Stefanie",
	"Andreas", "Katrin", "Björn", "Özlem", "Mehmet", "Jana", "Sören", "Lea", "Lukas", "Mia", "Finn", "Zoë", "Jonas",
	"Emilia", "Korbinian", "Fiete", "Anneliese", "Dragan", "Katarzyna", "Maximilian", "Chantal", "Ole"}
var lastNames = []string{"Müller", "Schmidt", "Schröder", "Köhler", "Weiß", "Groß", "Jäger", "Krüger", "Böhm", "Lehmann",
	"Huber", "Gruber", "Brinkmann", "Janßen", "Hansen", "Kaya", "Yılmaz", "Nowak", "Kowalski", "Petrović", "Nguyen",
	"Hoffmann", "Wagner", "Becker", "Schäfer", "Fuchs", "Zimmermann", "Sommer", "Lorenz"}

// dramaMobiles are the German mobile numbers the Bundesnetzagentur keeps
// free for films, books and examples ("Drama Numbers", Mitteilung
// 148/2021, Amtsblatt 7/2021): ten single numbers and the blocks
// 0176 040690 00–99 and 0171 39200 00–99. They are never given to anyone,
// so a demo inbox full of them bothers no one. Interleaved so that a few
// customers already show different prefixes.
var dramaMobiles = func() []string {
	singles := []string{"15228817386", "15228895456", "15254599371", "1729925904", "1729968532",
		"1729973185", "1729973186", "1729980752", "1749091317", "1749464308"}
	var out []string
	for k := range 100 {
		out = append(out, fmt.Sprintf("49176040690%02d", k), fmt.Sprintf("4917139200%02d", k))
		if k < len(singles) {
			out = append(out, "49"+singles[k])
		}
	}
	return out
}()

var texts = []string{
	"Hallo, ist meine Bestellung schon unterwegs?",
	"Könnt ihr mir die Rechnung noch einmal als PDF schicken?",
	"Habt ihr den Espresso auch gemahlen für die Siebträgermaschine?",
	"Danke, alles gut angekommen! Riecht herrlich ☕",
	"Wann habt ihr am Samstag im Laden geöffnet?",
	"Ich würde mein Abo gern auf alle vier Wochen umstellen.",
	"Die Lieferung ist leider beschädigt angekommen.",
	"Kann ich auch per Rechnung bezahlen?",
	"Wie lange dauert der Versand nach Österreich?",
	"Ist die Äthiopien-Röstung wieder da?",
	"Guten Morgen, mein Paket liegt laut Sendungsverfolgung seit Tagen im Verteilzentrum.",
	"Ich möchte die Bohnen zurückschicken, die sind mir zu dunkel geröstet.",
	"Super, vielen Dank für die schnelle Antwort!",
	"Können Sie mich heute Nachmittag kurz zurückrufen?",
	"Ist das Paket mit DHL oder Hermes unterwegs?",
}

// Customers returns n fictional customers; every fifth has only a
// business-scoped user id, as username users since 2026 do, every seventh
// shows only a first name and a few write as a family.
func Customers(n int) []Customer {
	out := make([]Customer, n)
	for i := range out {
		first, last := firstNames[i%len(firstNames)], lastNames[i*11%len(lastNames)]
		c := Customer{Name: first + " " + last}
		switch {
		case i%7 == 3:
			c.Name = first
		case i%11 == 5:
			c.Name = "Familie " + last
		}
		c.UserID = fmt.Sprintf("DE.%020d", 7300000000000000+i)
		if i%5 != 4 {
			if i < len(dramaMobiles) {
				c.WaID = dramaMobiles[i]
			} else {
				// Germany keeps only 210 mobile numbers free; load tests with
				// more customers go on in the UK's 07700 9 range as before.
				c.WaID = fmt.Sprintf("4477009%05d", i%100000)
			}
		}
		out[i] = c
	}
	return out
}

// Kinds are the message kinds customers write.
var Kinds = []string{"text", "text", "text", "image", "location", "reaction", "reply", "document"}

// Write makes customer c send one message of the given kind to the
// gateway and returns its wamid and the gateway's HTTP answer.
func (s *Simulator) Write(ctx context.Context, c Customer, kind string) (string, int, error) {
	return s.write(ctx, c, kind, nil, nil)
}

// File is a media file a customer sends with WriteFile.
type File struct {
	Data     []byte
	MimeType string
	Filename string
	// MediaID, if set, is announced instead of uploading Data (e.g. an id
	// Meta no longer has).
	MediaID string
}

// WriteFile makes customer c send the given file as a message of kind
// image, document, audio, video or sticker.
func (s *Simulator) WriteFile(ctx context.Context, c Customer, kind string, f File) (string, int, error) {
	return s.write(ctx, c, kind, &f, nil)
}

// Line is one scripted customer message, for a demo that tells a story.
type Line struct {
	Kind  string        // text, image, document or location (default text)
	Text  string        // the text, or a file's caption
	Ago   time.Duration // written this long ago (its timestamp and window)
	Place *Place        // where, for a location
	// ReplyID answers an interactive message (kinds button_reply and
	// list_reply: the button's or row's id; kind button: a template's
	// quick-reply payload); Text is the button's title.
	ReplyID string
	// Phone is the number a customer known by BSUID shares (kind
	// share_number), in digits.
	Phone string
}

// Place is a shared location.
type Place struct {
	Latitude, Longitude float64
	Name, Address       string
}

// WriteLine makes customer c send a scripted message.
func (s *Simulator) WriteLine(ctx context.Context, c Customer, l Line) (string, int, error) {
	kind := l.Kind
	if kind == "" {
		kind = "text"
	}
	return s.write(ctx, c, kind, nil, &l)
}

func (s *Simulator) write(ctx context.Context, c Customer, kind string, file *File, line *Line) (string, int, error) {
	now := time.Now()
	if line != nil {
		now = now.Add(-line.Ago)
	}
	wamid := newWAMID(c.key())
	msg := map[string]any{"id": wamid, "timestamp": strconv.FormatInt(now.Unix(), 10)}
	if c.WaID != "" {
		msg["from"] = c.WaID
	}
	if c.UserID != "" {
		msg["from_user_id"] = c.UserID
	}
	s.mu.Lock()
	lastSent := last(s.sentTo[c.key()])
	lastIn := last(s.inbound[c.key()])
	s.mu.Unlock()
	switch kind {
	case "reaction":
		target := lastSent
		if target == "" {
			target = lastIn
		}
		if target != "" {
			msg["type"] = "reaction"
			msg["reaction"] = map[string]string{"message_id": target, "emoji": []string{"👍", "❤️", "😂", "🙏"}[rand.IntN(4)]}
			break
		}
		kind = "text"
		fallthrough
	case "text", "reply":
		msg["type"] = "text"
		body := texts[rand.IntN(len(texts))]
		if line != nil {
			body = line.Text
		}
		msg["text"] = map[string]string{"body": body}
		if kind == "reply" && lastSent != "" {
			msg["context"] = map[string]string{"from": s.opts.DisplayPhoneNumber, "id": lastSent}
		}
	case "image", "document", "sticker", "audio", "video":
		data, mt, fname := fakeFile(kind)
		if file != nil {
			data, mt, fname = file.Data, file.MimeType, file.Filename
		}
		id := file.mediaID()
		if id == "" {
			id = s.AddMedia(data, mt, fname, s.opts.PhoneNumberID)
		}
		sum := sha256.Sum256(data)
		obj := map[string]any{"mime_type": mt, "sha256": base64.StdEncoding.EncodeToString(sum[:]), "id": id}
		switch kind {
		case "image":
			obj["caption"] = "Foto vom Paket"
		case "document":
			obj["filename"] = fname
			obj["caption"] = "Rechnung"
		case "audio":
			obj["voice"] = true
		case "sticker":
			obj["animated"] = false
		}
		if line != nil && (kind == "image" || kind == "document" || kind == "video") {
			obj["caption"] = line.Text
		}
		msg["type"] = kind
		msg[kind] = obj
	case "button_reply", "list_reply":
		if line == nil {
			return "", 0, fmt.Errorf("simulator: %s needs a Line with ReplyID", kind)
		}
		msg["type"] = "interactive"
		msg["interactive"] = map[string]any{"type": kind, kind: map[string]string{"id": line.ReplyID, "title": line.Text}}
		if lastSent != "" {
			msg["context"] = map[string]string{"from": s.opts.DisplayPhoneNumber, "id": lastSent}
		}
	case "button":
		if line == nil {
			return "", 0, fmt.Errorf("simulator: button needs a Line with ReplyID")
		}
		msg["type"] = "button"
		msg["button"] = map[string]string{"payload": line.ReplyID, "text": line.Text}
		if lastSent != "" {
			msg["context"] = map[string]string{"from": s.opts.DisplayPhoneNumber, "id": lastSent}
		}
	case "location":
		p := Place{Latitude: 52.520008 + rand.Float64()/100, Longitude: 13.404954 + rand.Float64()/100,
			Name: "Abholstation", Address: "Beispielstraße 1, 10115 Berlin"}
		if line != nil && line.Place != nil {
			p = *line.Place
		}
		msg["type"] = "location"
		msg["location"] = map[string]any{"latitude": p.Latitude, "longitude": p.Longitude, "name": p.Name, "address": p.Address}
	case "share_number":
		// The tap on request_contact_info's button: WhatsApp sends the
		// customer's own number as a contact card marked by its origin,
		// in reply to the request (the last message sent to them).
		if line == nil || line.Phone == "" {
			return "", 0, fmt.Errorf("simulator: share_number needs Line.Phone")
		}
		msg["type"] = "contacts"
		msg["contacts"] = []any{map[string]any{"origin": "contact_request",
			"name":   map[string]string{"formatted_name": c.Name, "first_name": c.Name},
			"phones": []any{map[string]string{"phone": "+" + line.Phone, "wa_id": line.Phone, "type": "CELL"}}}}
		if lastSent != "" {
			msg["context"] = map[string]string{"from": s.opts.DisplayPhoneNumber, "id": lastSent}
		}
	default:
		return "", 0, fmt.Errorf("simulator: unknown message kind %q", kind)
	}
	contact := map[string]any{"profile": map[string]string{"name": c.Name}}
	if c.WaID != "" {
		contact["wa_id"] = c.WaID
	}
	if c.UserID != "" {
		contact["user_id"] = c.UserID
	}
	body := envelope(s.snapshot(), s.opts.PhoneNumberID, map[string]any{"contacts": []any{contact}, "messages": []any{msg}})
	s.mu.Lock()
	// A backdated line opens the window only from when it was written.
	if now.After(s.windows[c.key()]) {
		s.windows[c.key()] = now
	}
	l := append(s.inbound[c.key()], wamid)
	if len(l) > 20 {
		l = l[len(l)-20:]
	}
	s.inbound[c.key()] = l
	s.mu.Unlock()
	st, err := s.PostWebhook(ctx, body)
	return wamid, st, err
}

func (f *File) mediaID() string {
	if f == nil {
		return ""
	}
	return f.MediaID
}

func last(l []string) string {
	if len(l) == 0 {
		return ""
	}
	return l[len(l)-1]
}

// fakeFile makes a small file that looks like the kind (magic bytes) with
// random content, so that every file has its own hash.
func fakeFile(kind string) (data []byte, mimeType, filename string) {
	if kind == "image" {
		return parcelPhoto(), "image/jpeg", ""
	}
	n := 2048 + rand.IntN(6144)
	data = make([]byte, n)
	for i := range data {
		data[i] = byte(rand.IntN(256))
	}
	switch kind {
	case "sticker":
		copy(data, "RIFF\x00\x00\x00\x00WEBPVP8 ")
		return data, "image/webp", ""
	case "audio":
		copy(data, "OggS")
		return data, "audio/ogg; codecs=opus", ""
	case "video":
		copy(data, "\x00\x00\x00\x18ftypmp42")
		return data, "video/mp4", ""
	}
	copy(data, "%PDF-1.7\n")
	return data, "application/pdf", fmt.Sprintf("Rechnung-%d.pdf", rand.IntN(100000))
}

// parcelPhoto draws a small real JPEG, a dented parcel with packing tape,
// so that the panel shows a picture; the random tint of its blocks gives
// every photo its own hash.
func parcelPhoto() []byte {
	const w, h = 240, 180
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for by := 0; by < h; by += 8 {
		for bx := 0; bx < w; bx += 8 {
			d := uint8(rand.IntN(14))
			for y := by; y < by+8; y++ {
				for x := bx; x < bx+8; x++ {
					c := color.RGBA{184 - d, 140 - d, 92 - d, 255} // cardboard
					switch {
					case x > 105 && x < 135:
						c = color.RGBA{214, 196, 150, 255} // tape
					case x+y > 330:
						c = color.RGBA{110 - d, 80 - d, 50, 255} // the dent
					case x+y > 322:
						c = color.RGBA{60, 42, 28, 255} // its edge
					}
					img.Set(x, y, c)
				}
			}
		}
	}
	var b bytes.Buffer
	jpeg.Encode(&b, img, &jpeg.Options{Quality: 70})
	return b.Bytes()
}

// envelope wraps a messages value in Meta's notification envelope.
func envelope(o Options, pnid string, value map[string]any) []byte {
	value["messaging_product"] = "whatsapp"
	value["metadata"] = map[string]string{"display_phone_number": o.DisplayPhoneNumber, "phone_number_id": pnid}
	b, _ := json.Marshal(map[string]any{
		"object": "whatsapp_business_account",
		"entry":  []any{map[string]any{"id": o.WABAID, "changes": []any{map[string]any{"field": "messages", "value": value}}}},
	})
	return b
}

func statusWebhook(o Options, pnid string, sr *cloudapi.SendRequest, wamid, status string, now time.Time) []byte {
	st := map[string]any{"id": wamid, "status": status, "timestamp": strconv.FormatInt(now.Unix(), 10)}
	if sr.RecipientType == "group" {
		st["recipient_type"], st["recipient_id"] = "group", sr.To
	} else if sr.To != "" {
		st["recipient_id"] = cloudapi.PhoneDigits(sr.To)
	} else {
		st["recipient_user_id"] = sr.Recipient
	}
	if sr.BizOpaqueCallbackData != "" {
		st["biz_opaque_callback_data"] = sr.BizOpaqueCallbackData
	}
	if status == "sent" {
		st["pricing"] = pricingOf(o, sr, now)
	}
	return envelope(o, pnid, map[string]any{"statuses": []any{st}})
}

// Load describes customer traffic for RunCustomers.
type Load struct {
	Rate        float64       // messages per second
	Count       int           // stop after this many (0: use Duration)
	Duration    time.Duration // stop after this long
	Customers   int           // how many different customers (default 50)
	Kinds       []string      // default Kinds
	Concurrency int           // webhook posts in flight (default 32)
}

// LoadStats reports what RunCustomers did.
type LoadStats struct {
	Sent, OK, Failed int
	Elapsed          time.Duration
	P50, P99, Max    time.Duration
}

// Rate is the achieved messages per second.
func (l LoadStats) Rate() float64 {
	if l.Elapsed <= 0 {
		return 0
	}
	return float64(l.Sent) / l.Elapsed.Seconds()
}

// Table prints the stats as a small text table.
func (l LoadStats) Table(w io.Writer) {
	fmt.Fprintf(w, "%-10s %8s %8s %10s %10s %10s %10s\n", "webhooks", "ok", "failed", "rate/s", "ack p50", "ack p99", "ack max")
	fmt.Fprintf(w, "%-10d %8d %8d %10.1f %10s %10s %10s\n", l.Sent, l.OK, l.Failed, l.Rate(),
		l.P50.Round(10*time.Microsecond), l.P99.Round(10*time.Microsecond), l.Max.Round(10*time.Microsecond))
}

// RunCustomers lets fictional customers write at the given rate until the
// count or duration is reached or ctx ends.
func (s *Simulator) RunCustomers(ctx context.Context, l Load) LoadStats {
	if l.Customers <= 0 {
		l.Customers = 50
	}
	if len(l.Kinds) == 0 {
		l.Kinds = Kinds
	}
	if l.Concurrency <= 0 {
		l.Concurrency = 32
	}
	if l.Rate <= 0 {
		l.Rate = 1
	}
	if l.Count <= 0 && l.Duration <= 0 {
		l.Duration = 10 * time.Second
	}
	customers := Customers(l.Customers)
	var (
		mu   sync.Mutex
		lats []time.Duration
		ok   atomic.Int64
		bad  atomic.Int64
		wg   sync.WaitGroup
	)
	sem := make(chan struct{}, l.Concurrency)
	interval := time.Duration(float64(time.Second) / l.Rate)
	start := time.Now()
	sent := 0
	for ctx.Err() == nil {
		if l.Count > 0 && sent >= l.Count {
			break
		}
		if l.Duration > 0 && time.Since(start) >= l.Duration {
			break
		}
		// Pace against the start time so that slow posts do not lower the rate.
		if d := time.Until(start.Add(time.Duration(sent) * interval)); d > 0 {
			select {
			case <-time.After(d):
			case <-ctx.Done():
			}
			if ctx.Err() != nil {
				break
			}
		}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			continue
		}
		c := customers[rand.IntN(len(customers))]
		kind := l.Kinds[rand.IntN(len(l.Kinds))]
		sent++
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			t := time.Now()
			_, st, err := s.Write(ctx, c, kind)
			d := time.Since(t)
			if err != nil || st != 200 {
				bad.Add(1)
				return
			}
			ok.Add(1)
			mu.Lock()
			lats = append(lats, d)
			mu.Unlock()
		}()
	}
	wg.Wait()
	st := LoadStats{Sent: sent, OK: int(ok.Load()), Failed: int(bad.Load()), Elapsed: time.Since(start)}
	if len(lats) > 0 {
		slices.Sort(lats)
		st.P50 = lats[len(lats)/2]
		st.P99 = lats[min(len(lats)-1, len(lats)*99/100)]
		st.Max = lats[len(lats)-1]
	}
	return st
}

// pricingOf is the pricing object Meta puts on a message's receipt: a
// template is charged (type regular) in its category, looked up among
// the simulator's templates (utility when unknown); other messages are
// free customer service until 2026-10-01, when Meta starts charging
// service messages too. Options.PricingCategory overrides the category,
// to test categories Pforte does not know yet.
func pricingOf(o Options, sr *cloudapi.SendRequest, now time.Time) map[string]any {
	cat, typ := "service", "free_customer_service"
	if !now.Before(serviceBilledFrom) {
		typ = "regular"
	}
	if sr.IsTemplate() {
		cat, typ = "utility", "regular"
		var t struct {
			Name string `json:"name"`
		}
		json.Unmarshal(sr.Payload, &t)
		for _, tpl := range o.Templates {
			if tpl.Name == t.Name && tpl.Category != "" {
				cat = strings.ToLower(tpl.Category)
			}
		}
	}
	if o.PricingCategory != "" {
		cat = o.PricingCategory
	}
	return map[string]any{"billable": typ == "regular", "pricing_model": "PMP", "type": typ, "category": cat}
}

// serviceBilledFrom is when Meta begins charging service messages.
var serviceBilledFrom = time.Date(2026, 10, 1, 0, 0, 0, 0, time.UTC)
