// Package storetool holds the store chores the harnesses under test/ (the
// load and soak tools) share: for now, Purge, which takes away every
// record a run put in a Redis it did not start.
//
// It works on any cache.Store through the interface alone, so it imports
// no store implementation.
package storetool
