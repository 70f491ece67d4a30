// Package cachetest is the conformance suite every cache.Store backend runs.
//
// A backend's test calls Run with a constructor that returns a fresh, empty
// store; Run executes one named subtest per behaviour of the cache.Store
// contract (CRUD, every sentinel, the unique and membership indexes, paging,
// concurrent compare-and-swap updates, and a batch that mixes present and
// missing keys), each on its own store. A behaviour in which backends could
// differ becomes a new case here.
package cachetest
