package gormstore

import "gorm.io/gorm"

// SetBeforeCommit lets a test hold a create open between its insert and its commit.
func SetBeforeCommit(s *Store, f func(ids []int64)) { s.beforeCommit = f }

// DB exposes the store's connection pool so a test can look at the server's state.
func DB(s *Store) *gorm.DB { return s.db }

// IsPostgres says which kind of database the store opened.
func IsPostgres(s *Store) bool { return s.postgres }
