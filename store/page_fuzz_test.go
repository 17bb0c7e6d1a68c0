package store

import (
	"errors"
	"testing"
	"time"
)

// FuzzDecodeCursor: any string a client sends as a cursor decodes into a position or answers
// ErrInvalid (the API's 400 naming the cursor), never panics; a cursor the store made decodes to the
// position it was made from.
func FuzzDecodeCursor(f *testing.F) {
	for _, s := range []string{
		"", "abc", "eyJ0Ijoibm90IGEgdGltZSJ9", "bm90IGEgY3Vyc29y", "e30", "eyJuIjoid2ViIn0",
		encodeCursor(timeCursor{At: time.Date(2026, 1, 2, 3, 4, 5, 6000, time.UTC), ID: "01a22047-712c-7e91-8a0a-4d79f86dfabf"}),
		encodeCursor(nameCursor{Name: "web"}), "====", "eyJ0IjoiMjAyNi0wMS0wMlQwMzowNDowNVoiLCJpIjoxfQ",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var tc timeCursor
		if err := decodeCursor(s, &tc); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("cursor %q: %v is not ErrInvalid", s, err)
			}
		} else {
			var again timeCursor
			if err := decodeCursor(encodeCursor(tc), &again); err != nil || !again.At.Equal(tc.At) || again.ID != tc.ID {
				t.Fatalf("cursor %q decodes to %+v, which does not round-trip: %+v %v", s, tc, again, err)
			}
		}
		var nc nameCursor
		if err := decodeCursor(s, &nc); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("cursor %q: %v is not ErrInvalid", s, err)
			}
		} else {
			var again nameCursor
			if err := decodeCursor(encodeCursor(nc), &again); err != nil || again != nc {
				t.Fatalf("cursor %q decodes to %+v, which does not round-trip: %+v %v", s, nc, again, err)
			}
		}
	})
}
