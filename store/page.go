package store

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"gorm.io/gorm"
)

// Page sizes.
const (
	DefaultPageLimit = 50
	MaxPageLimit     = 500
)

// Page asks for one page of a list: at most Limit items (DefaultPageLimit when 0, at most
// MaxPageLimit) after Cursor, the opaque string the previous page returned ("" for the first page).
// Lists are keyset-paginated, so a page never repeats or skips an item when others are added.
type Page struct {
	Limit  int
	Cursor string
}

func (p Page) limit() int {
	switch {
	case p.Limit <= 0:
		return DefaultPageLimit
	case p.Limit > MaxPageLimit:
		return MaxPageLimit
	default:
		return p.Limit
	}
}

// nameCursor is the position in a list ordered by name.
type nameCursor struct {
	Name string `json:"n"`
}

// timeCursor is the position in a list ordered newest first.
type timeCursor struct {
	At time.Time `json:"t"`
	ID string    `json:"i"`
}

func encodeCursor(v any) string {
	b, _ := json.Marshal(v) // the cursor types always marshal
	return base64.RawURLEncoding.EncodeToString(b)
}

func decodeCursor(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, v)
	}
	if err != nil {
		return fmt.Errorf("decode page cursor %q: %w", s, ErrInvalid)
	}
	return nil
}

// listByName reads one page of q ordered by name.
func listByName[R any](q *gorm.DB, page Page, name func(R) string) ([]R, string, error) {
	if page.Cursor != "" {
		var c nameCursor
		if err := decodeCursor(page.Cursor, &c); err != nil {
			return nil, "", err
		}
		q = q.Where("name > ?", c.Name)
	}
	n := page.limit()
	var rows []R
	if err := q.Order("name").Limit(n + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	if len(rows) <= n {
		return rows, "", nil
	}
	rows = rows[:n]
	return rows, encodeCursor(nameCursor{Name: name(rows[n-1])}), nil
}

// listNewestFirst reads one page of q ordered by creation time, newest first, ties broken by id.
func listNewestFirst[R any](q *gorm.DB, page Page, key func(R) (time.Time, string)) ([]R, string, error) {
	if page.Cursor != "" {
		var c timeCursor
		if err := decodeCursor(page.Cursor, &c); err != nil {
			return nil, "", err
		}
		at := c.At.UTC()
		q = q.Where("(created_at < ? OR (created_at = ? AND id < ?))", at, at, c.ID)
	}
	n := page.limit()
	var rows []R
	if err := q.Order("created_at DESC, id DESC").Limit(n + 1).Find(&rows).Error; err != nil {
		return nil, "", err
	}
	if len(rows) <= n {
		return rows, "", nil
	}
	rows = rows[:n]
	at, id := key(rows[n-1])
	return rows, encodeCursor(timeCursor{At: at.UTC(), ID: id}), nil
}

func models[R any, M any](rows []R, model func(R) M) []M {
	out := make([]M, len(rows))
	for i, r := range rows {
		out[i] = model(r)
	}
	return out
}
