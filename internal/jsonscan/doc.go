// Package jsonscan reads and writes the few JSON shapes the bridge's hot
// paths need without going through reflection: the members of an object
// the store already validated, a string value, a string to append.
package jsonscan
