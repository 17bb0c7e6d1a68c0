package store

import (
	"context"
	"fmt"

	"gorm.io/gorm"
)

// deleteEmpty deletes the row of model with id in one transaction, unless rows of child still point at
// it through column: then it answers ErrNotEmpty saying how many (word names them). A missing row
// answers ErrNotFound. Errors are translated.
func (s *Store) deleteEmpty(ctx context.Context, id string, model, child any, column, word string) error {
	err := s.db.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		var n int64
		if err := tx.Model(child).Where(column+" = ?", id).Count(&n).Error; err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("it has %d %s: %w", n, word, ErrNotEmpty)
		}
		res := tx.Where("id = ?", id).Delete(model)
		if res.Error != nil {
			return notEmptyOnForeignKey(res.Error)
		}
		if res.RowsAffected == 0 {
			return ErrNotFound
		}
		return nil
	})
	return translate(err)
}
