package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// schema455Routing is migration 455: routing of new conversations. Teams
// and their members are staff data (no customer data); a user's
// availability is a column on users; a conversation's team and priority
// go with the conversation (retention, erasure by cascade of its row).
// routing_rules holds one number's ordered rule list as the JSON the API
// takes, so API, panel and worker read one shape; it names teams, labels
// and agents, never customers.
const schema455Routing = `
CREATE TABLE teams (
	id         INTEGER PRIMARY KEY AUTOINCREMENT,
	name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
	rr_last    INTEGER NOT NULL DEFAULT 0,  -- user id the round robin gave the last conversation
	created_at INTEGER NOT NULL
);
CREATE TABLE team_members (
	team_id INTEGER NOT NULL REFERENCES teams(id) ON DELETE CASCADE,
	user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
	PRIMARY KEY (team_id, user_id)
) WITHOUT ROWID;
CREATE INDEX team_members_user ON team_members(user_id);
ALTER TABLE users ADD COLUMN away INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN team_id INTEGER REFERENCES teams(id) ON DELETE SET NULL;
ALTER TABLE conversations ADD COLUMN priority INTEGER NOT NULL DEFAULT 0; -- 0 normal, 1 high, 2 urgent, -1 low
CREATE INDEX conversations_team ON conversations(team_id, status, last_message_at DESC) WHERE team_id IS NOT NULL;
CREATE TABLE routing_rules (
	id                 INTEGER PRIMARY KEY AUTOINCREMENT,
	business_number_id INTEGER NOT NULL UNIQUE REFERENCES business_numbers(id) ON DELETE CASCADE,
	spec               TEXT NOT NULL,
	updated_at         INTEGER NOT NULL
);
`

// Team is a group of agents.
type Team struct {
	ID      int64
	Name    string
	Members []int64 // user ids
}

// TeamAgent is a team member as routing sees it.
type TeamAgent struct {
	UserID    int64
	Available bool // not away, not disabled
	Open      int  // open conversations assigned to them
}

// ErrTeamExists is returned for a second team of the same name.
var ErrTeamExists = errors.New("store: team exists")

// CreateTeam adds a team, audited.
func (s *Store) CreateTeam(ctx context.Context, actor Actor, name string, now time.Time) (int64, error) {
	name = strings.TrimSpace(name)
	var id int64
	err := s.Write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM teams WHERE name = ?", name).Scan(&n); err != nil {
			return err
		}
		if n > 0 {
			return ErrTeamExists
		}
		res, err := tx.Exec("INSERT INTO teams(name, created_at) VALUES (?, ?)", name, now.Unix())
		if err != nil {
			return err
		}
		id, _ = res.LastInsertId()
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditTeamCreate, Target: fmt.Sprintf("team:%d", id), Detail: name})
	})
	if errors.Is(err, ErrTeamExists) {
		return 0, ErrTeamExists
	}
	if err != nil {
		return 0, fmt.Errorf("store: create team: %w", err)
	}
	return id, nil
}

// DeleteTeam removes a team; its conversations keep their assignee.
func (s *Store) DeleteTeam(ctx context.Context, actor Actor, id int64, now time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error {
		res, err := tx.Exec("DELETE FROM teams WHERE id = ?", id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditTeamDelete, Target: fmt.Sprintf("team:%d", id)})
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: delete team: %w", err)
	}
	return nil
}

// SetTeamMembers replaces a team's members, audited. Unknown or
// non-agent users are refused with ErrNotFound and nothing changes.
func (s *Store) SetTeamMembers(ctx context.Context, actor Actor, teamID int64, users []int64, now time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error {
		var n int
		if err := tx.QueryRow("SELECT count(*) FROM teams WHERE id = ?", teamID).Scan(&n); err != nil {
			return err
		}
		if n == 0 {
			return ErrNotFound
		}
		if _, err := tx.Exec("DELETE FROM team_members WHERE team_id = ?", teamID); err != nil {
			return err
		}
		ids := make([]string, 0, len(users))
		for _, u := range users {
			res, err := tx.Exec(`INSERT OR IGNORE INTO team_members(team_id, user_id)
				SELECT ?, id FROM users WHERE id = ? AND role IN ('admin', 'agent')`, teamID, u)
			if err != nil {
				return err
			}
			if k, _ := res.RowsAffected(); k == 0 {
				var dup int
				if err := tx.QueryRow("SELECT count(*) FROM team_members WHERE team_id = ? AND user_id = ?", teamID, u).Scan(&dup); err != nil {
					return err
				}
				if dup == 0 {
					return ErrNotFound
				}
			}
			ids = append(ids, fmt.Sprint(u))
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditTeamMembers, Target: fmt.Sprintf("team:%d", teamID), Detail: strings.Join(ids, ",")})
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: team members: %w", err)
	}
	return nil
}

// Teams lists the teams with their members, by name.
func (s *Store) Teams(ctx context.Context) ([]Team, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT t.id, t.name, coalesce(m.user_id, 0) FROM teams t
		LEFT JOIN team_members m ON m.team_id = t.id ORDER BY t.name, t.id, m.user_id`)
	if err != nil {
		return nil, fmt.Errorf("store: teams: %w", err)
	}
	defer rows.Close()
	var out []Team
	for rows.Next() {
		var id, uid int64
		var name string
		if err := rows.Scan(&id, &name, &uid); err != nil {
			return nil, fmt.Errorf("store: teams: %w", err)
		}
		if len(out) == 0 || out[len(out)-1].ID != id {
			out = append(out, Team{ID: id, Name: name})
		}
		if uid > 0 {
			out[len(out)-1].Members = append(out[len(out)-1].Members, uid)
		}
	}
	return out, rows.Err()
}

// SetAvailable records whether a user takes new conversations. It is the
// user's own switch, so it is not audited.
func (s *Store) SetAvailable(ctx context.Context, userID int64, available bool) error {
	away := 1
	if available {
		away = 0
	}
	err := s.Write(ctx, func(tx *Tx) error {
		_, err := tx.Exec("UPDATE users SET away = ? WHERE id = ?", away, userID)
		return err
	})
	if err != nil {
		return fmt.Errorf("store: availability: %w", err)
	}
	return nil
}

// WaitingConversation is an open conversation routed to a team that
// nobody has taken yet.
type WaitingConversation struct {
	ConversationID, TeamID int64
}

// TeamWaiting lists the open conversations routed to one of the user's
// teams that nobody has taken (no member was available when they were
// routed), longest waiting first.
func (s *Store) TeamWaiting(ctx context.Context, userID int64) ([]WaitingConversation, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT c.id, c.team_id FROM conversations c
		JOIN team_members m ON m.team_id = c.team_id AND m.user_id = ?
		WHERE c.assignee_id IS NULL AND c.status = 'open' AND c.bot_active = 0
		ORDER BY c.last_message_at, c.id`, userID)
	if err != nil {
		return nil, fmt.Errorf("store: team waiting: %w", err)
	}
	defer rows.Close()
	var out []WaitingConversation
	for rows.Next() {
		var w WaitingConversation
		if err := rows.Scan(&w.ConversationID, &w.TeamID); err != nil {
			return nil, fmt.Errorf("store: team waiting: %w", err)
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// Available tells whether a user takes new conversations.
func (s *Store) Available(ctx context.Context, userID int64) (bool, error) {
	var away bool
	if err := s.rdb.QueryRowContext(ctx, "SELECT away FROM users WHERE id = ?", userID).Scan(&away); err != nil {
		return false, fmt.Errorf("store: availability: %w", err)
	}
	return !away, nil
}

// TeamAgents lists a team's members by user id with availability and
// open load, and the user the round robin served last.
func (s *Store) TeamAgents(ctx context.Context, teamID int64) (agents []TeamAgent, rrLast int64, err error) {
	if err := s.rdb.QueryRowContext(ctx, "SELECT rr_last FROM teams WHERE id = ?", teamID).Scan(&rrLast); err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, 0, ErrNotFound
		}
		return nil, 0, fmt.Errorf("store: team agents: %w", err)
	}
	rows, err := s.rdb.QueryContext(ctx, `SELECT u.id, u.away = 0 AND u.disabled_at IS NULL,
			(SELECT count(*) FROM conversations c WHERE c.assignee_id = u.id AND c.status = 'open')
		FROM team_members m JOIN users u ON u.id = m.user_id WHERE m.team_id = ? ORDER BY u.id`, teamID)
	if err != nil {
		return nil, 0, fmt.Errorf("store: team agents: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a TeamAgent
		if err := rows.Scan(&a.UserID, &a.Available, &a.Open); err != nil {
			return nil, 0, fmt.Errorf("store: team agents: %w", err)
		}
		agents = append(agents, a)
	}
	return agents, rrLast, rows.Err()
}

// Route is what the routing rules decided for a conversation.
type Route struct {
	TeamID   int64   // 0: no team
	UserID   int64   // 0: nobody (team only)
	Labels   []int64 // label ids to add
	Priority *int    // nil: leave as is
	Rule     string  // the rule's name, for the log
	RRTeam   bool    // UserID came from the team's round robin
}

// ApplyRoute writes a routing decision, only while the conversation is
// still unassigned and not handed to a bot: an agent who took it in the
// meantime wins. It reports whether anything was written.
func (s *Store) ApplyRoute(ctx context.Context, convID int64, r Route, now time.Time) (bool, error) {
	var done bool
	err := s.Write(ctx, func(tx *Tx) error {
		var team, user any
		if r.TeamID > 0 {
			team = r.TeamID
		}
		if r.UserID > 0 {
			user = r.UserID
		}
		res, err := tx.Exec(`UPDATE conversations SET team_id = coalesce(?, team_id), assignee_id = ?, priority = coalesce(?, priority), updated_at = ?
			WHERE id = ? AND assignee_id IS NULL AND bot_active = 0`, team, user, r.Priority, now.Unix(), convID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return nil
		}
		done = true
		for _, l := range r.Labels {
			if _, err := tx.Exec("INSERT OR IGNORE INTO conversation_labels(conversation_id, label_id) VALUES (?, ?)", convID, l); err != nil {
				return err
			}
		}
		if r.RRTeam && r.UserID > 0 {
			if _, err := tx.Exec("UPDATE teams SET rr_last = ? WHERE id = ?", r.UserID, r.TeamID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("store: apply route: %w", err)
	}
	return done, nil
}

// RoutingFacts are what the rules may look at beyond the message: the
// conversation's labels (names, lower case) and the contact's custom
// field values (by key).
func (s *Store) RoutingFacts(ctx context.Context, convID, contactID int64) (labels []string, fields map[string]string, err error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT lower(l.name) FROM conversation_labels cl JOIN labels l ON l.id = cl.label_id WHERE cl.conversation_id = ?`, convID)
	if err != nil {
		return nil, nil, fmt.Errorf("store: routing facts: %w", err)
	}
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			rows.Close()
			return nil, nil, fmt.Errorf("store: routing facts: %w", err)
		}
		labels = append(labels, n)
	}
	rows.Close()
	rows, err = s.rdb.QueryContext(ctx, `SELECT f.key, v.value FROM contact_field_values v JOIN contact_fields f ON f.id = v.field_id WHERE v.contact_id = ?`, contactID)
	if err != nil {
		return nil, nil, fmt.Errorf("store: routing facts: %w", err)
	}
	defer rows.Close()
	fields = map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, nil, fmt.Errorf("store: routing facts: %w", err)
		}
		fields[k] = v
	}
	return labels, fields, rows.Err()
}

// SetRouting stores a number's rule list (already validated), audited.
func (s *Store) SetRouting(ctx context.Context, actor Actor, pnid, spec string, now time.Time) error {
	err := s.Write(ctx, func(tx *Tx) error {
		var numberID int64
		if err := tx.QueryRow("SELECT id FROM business_numbers WHERE phone_number_id = ?", pnid).Scan(&numberID); err != nil {
			if errors.Is(err, sql.ErrNoRows) {
				return ErrNotFound
			}
			return err
		}
		if _, err := tx.Exec(`INSERT INTO routing_rules(business_number_id, spec, updated_at) VALUES (?, ?, ?)
			ON CONFLICT (business_number_id) DO UPDATE SET spec = excluded.spec, updated_at = excluded.updated_at`, numberID, spec, now.Unix()); err != nil {
			return err
		}
		return AuditTx(tx, AuditEntry{TS: now.Unix(), Actor: actor, Action: AuditRoutingChange, Target: "number:" + pnid, Detail: spec})
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("store: routing rules: %w", err)
	}
	return nil
}

// Routing returns a number's rule list ("" when unset); ErrNotFound for
// an unknown number.
func (s *Store) Routing(ctx context.Context, pnid string) (string, error) {
	var spec sql.NullString
	err := s.rdb.QueryRowContext(ctx, `SELECT r.spec FROM business_numbers b LEFT JOIN routing_rules r ON r.business_number_id = b.id
		WHERE b.phone_number_id = ?`, pnid).Scan(&spec)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("store: routing rules: %w", err)
	}
	return spec.String, nil
}

// RoutingAll returns every number's rule list by phone number id, and a
// version that changes with any edit (the worker's cache key).
func (s *Store) RoutingAll(ctx context.Context) (map[string]string, error) {
	rows, err := s.rdb.QueryContext(ctx, `SELECT b.phone_number_id, r.spec FROM routing_rules r JOIN business_numbers b ON b.id = r.business_number_id`)
	if err != nil {
		return nil, fmt.Errorf("store: routing rules: %w", err)
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var p, s string
		if err := rows.Scan(&p, &s); err != nil {
			return nil, fmt.Errorf("store: routing rules: %w", err)
		}
		out[p] = s
	}
	return out, rows.Err()
}

// RoutingNames resolves the names a rule list uses: team names, label
// names (lower case) and agent e-mails (lower case), to ids.
func (s *Store) RoutingNames(ctx context.Context) (teams, labels, agents map[string]int64, err error) {
	teams, labels, agents = map[string]int64{}, map[string]int64{}, map[string]int64{}
	for _, q := range []struct {
		sql string
		m   map[string]int64
	}{
		{"SELECT lower(name), id FROM teams", teams},
		{"SELECT lower(name), id FROM labels", labels},
		{"SELECT lower(email), id FROM users WHERE role IN ('admin', 'agent') AND disabled_at IS NULL", agents},
	} {
		rows, err := s.rdb.QueryContext(ctx, q.sql)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("store: routing names: %w", err)
		}
		for rows.Next() {
			var k string
			var id int64
			if err := rows.Scan(&k, &id); err != nil {
				rows.Close()
				return nil, nil, nil, fmt.Errorf("store: routing names: %w", err)
			}
			q.m[k] = id
		}
		rows.Close()
	}
	return teams, labels, agents, nil
}

// ConversationRoute is who has a conversation and how urgent it is.
type ConversationRoute struct {
	AssigneeID, TeamID int64 // 0: none
	Priority           int
}

// ConversationRouting reads a conversation's assignee, team and priority.
func (s *Store) ConversationRouting(ctx context.Context, convID int64) (ConversationRoute, error) {
	var r ConversationRoute
	err := s.rdb.QueryRowContext(ctx, "SELECT coalesce(assignee_id, 0), coalesce(team_id, 0), priority FROM conversations WHERE id = ?", convID).
		Scan(&r.AssigneeID, &r.TeamID, &r.Priority)
	if errors.Is(err, sql.ErrNoRows) {
		return r, ErrNotFound
	}
	if err != nil {
		return r, fmt.Errorf("store: conversation routing: %w", err)
	}
	return r, nil
}
