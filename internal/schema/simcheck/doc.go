// Package simcheck compares the signal catalog with the simulator's ground
// truth: it runs the simulator's variants, scrapes every target as
// Prometheus would and checks the catalog's values and topology join against
// the truth. It holds only tests, kept apart so that the catalog's own tests
// never depend on the simulator; nothing imports it.
package simcheck
