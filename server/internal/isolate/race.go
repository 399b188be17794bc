//go:build race

package isolate

// raceEnabled: the race detector reserves terabytes of address space, so
// an address-space limit cannot apply.
const raceEnabled = true
